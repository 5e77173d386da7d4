"""Schemathesis against the operator API's OpenAPI schema, on the real stack.

    make fuzz        (after the webhook's hypothesis properties)

Starts granian with production settings on the throwaway PostgreSQL and Redis, gives a staff
user an API token, and runs `schemathesis run` on /api/schema/ with that token: every operation
the schema describes gets generated valid and invalid requests, and the check is that none is
answered with a 5xx. Exits with schemathesis's status.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.throughput import run as stack  # noqa: E402  (process helpers shared with make bench)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=100)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="captpathfinder-fuzz-"))
    env = stack.service_env(tmp)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    stack.django_setup(env)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username="fuzz", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name="Operators"))  # every endpoint, not only its 403s
    token, _ = Token.objects.get_or_create(user=user)
    procs = stack.Processes()
    try:
        web_args = stack.production_web_args()
        _, port = stack.web_server(procs, "captpathfinder.wsgi:application", env, tmp, web_args)
        schemathesis = str(Path(sys.executable).parent / "schemathesis")
        return subprocess.run(
            [
                schemathesis,
                "run",
                f"http://127.0.0.1:{port}/api/schema/?format=json",
                "--header",
                f"Authorization: Token {token.key}",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                str(args.max_examples),
                "--generation-deterministic",
                "--exclude-path-regex",
                "^/webhooks/",  # the webhook is fuzzed by tests/detections/test_fuzz.py
            ],
            cwd=ROOT,
        ).returncode
    finally:
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
