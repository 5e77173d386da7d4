#!/usr/bin/env python3
"""Make sure a program from Debian's packages is on this machine: `python scripts/debian.py wrk`.

make test needs redis-server, chromium and chromedriver (Debian's chromium-driver) and npm, make
bench wrk. As root a missing one is installed with apt-get;
otherwise we say what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def binary_ensure(binary: str, package: str | None = None) -> str:
    """The path of `binary`, installing Debian's `package` (default: the binary's name) when missing."""
    package = package or binary
    found = shutil.which(binary)
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit(f"{binary} not found: install it (Debian: sudo apt-get install {package}) and retry.")
    print(f"[debian] {binary} missing: installing Debian's {package} package", file=sys.stderr, flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    if os.path.exists(f"/etc/init.d/{package}"):
        # A server's package (redis-server, haproxy) starts a system-wide one; we only want the binary.
        subprocess.run(["service", package, "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return shutil.which(binary) or f"/usr/bin/{binary}"


if __name__ == "__main__":
    for name in sys.argv[1:]:  # BINARY or BINARY:PACKAGE
        binary_ensure(*name.split(":", 1))
