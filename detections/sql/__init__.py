"""SQL that lives in the database: the webhook's intake function, one file per version.

Each version is installed by the migration that introduced it, whose reverse installs the version
before it; the code calls the newest (`INTAKE_FUNCTION_VERSION`). A released version is frozen:
its file's SHA-256 is recorded below, and loading a file that differs fails (in `migrate` and in
the tests), because a database migrated earlier keeps the version it installed. A change is a new
file, its hash here, and a migration that installs it. A test also compares the function a
migrated database has with its file.
"""

import hashlib
from pathlib import Path

INTAKE_FUNCTION = "captpathfinder_event_receive"
INTAKE_FUNCTION_VERSION = 2
_RELEASED = {
    1: "650e61c7dd2a530aeef8a89ed7f13fb1fbe5a9d000677c6f08b454c44a1a1733",
    2: "29304b0ede6549e834262337e2e7bd541add232c4037869a719bd3a8a1bcd146",
}


def intake_function_sql(version: int = INTAKE_FUNCTION_VERSION) -> str:
    content = (Path(__file__).parent / f"event_receive.v{version}.sql").read_bytes()
    if hashlib.sha256(content).hexdigest() != _RELEASED[version]:
        raise RuntimeError(
            f"detections/sql/event_receive.v{version}.sql differs from the version released as {version}: "
            "put the change in a new version, installed by a new migration"
        )
    return content.decode("utf-8")
