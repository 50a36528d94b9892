"""A private PostgreSQL server for the tests (Debian's ``postgresql`` package): a fresh
cluster in a temporary folder, on a free port of 127.0.0.1, removed afterwards. ``.ci/run``
starts one for the whole run and sets ``LLR_TEST_POSTGRES_URL``; without it the tests start
their own. Run as root, the server runs as the ``postgres`` user (PostgreSQL refuses root)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (.ci/run does)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class PostgresServer:
    def __init__(self) -> None:
        self.bin = _binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="llr-pg-", dir="/tmp"))
        self.data = self.folder / "data"
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        os.chmod(self.folder, 0o755)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/llr_test"

    def start(self) -> str:
        run = dict(check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        subprocess.run(_as_server_user([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                                        "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]), **run)
        log = self.folder / "server.log"
        subprocess.run(_as_server_user([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-w",
                                        "-t", "120", "-o",
                                        f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1",
                                        "start"]), **run)
        for _ in range(120):
            done = subprocess.run(_as_server_user([str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                                                   "-U", "postgres", "-d", "postgres", "-c",
                                                   "CREATE DATABASE llr_test"]),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            if done.returncode == 0:
                return self.url
            time.sleep(0.5)
        raise RuntimeError(f"PostgreSQL did not accept connections: {done.stdout.decode(errors='replace')}")

    def stop(self) -> None:
        subprocess.run(_as_server_user([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                                        "stop"]), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        shutil.rmtree(self.folder, ignore_errors=True)


if __name__ == "__main__":     # python tests/postgres_server.py start|stop FOLDER (for .ci/run)
    if sys.argv[1:2] == ["start"]:
        server = PostgresServer()
        print(server.start(), server.folder)
    elif sys.argv[1:2] == ["stop"]:
        folder = Path(sys.argv[2])
        subprocess.run(_as_server_user([str(_binaries() / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast",
                                        "-w", "stop"]), timeout=120)
        shutil.rmtree(folder, ignore_errors=True)
