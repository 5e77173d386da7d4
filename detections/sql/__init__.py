"""SQL that lives in the database: the webhook's intake function, one file per version.

Each version is installed by the migration that introduced it, whose reverse installs the version
before it; the code calls the newest (`INTAKE_FUNCTION_VERSION`). A test compares the installed
function with its file, so an edit that skipped the migration fails the suite.
"""

from pathlib import Path

INTAKE_FUNCTION = "captpathfinder_event_receive"
INTAKE_FUNCTION_VERSION = 2


def intake_function_sql(version: int = INTAKE_FUNCTION_VERSION) -> str:
    return (Path(__file__).parent / f"event_receive.v{version}.sql").read_text(encoding="utf-8")
