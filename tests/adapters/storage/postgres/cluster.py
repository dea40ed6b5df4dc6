"""A throwaway PostgreSQL cluster: initdb in a temporary folder, a free port on 127.0.0.1, its
unix socket in the same folder, stopped and deleted at the end. For the tests and the benchmark.

PostgreSQL refuses to run as root; as root, its programs run as the ``postgres`` user that the
Debian package creates (``runuser``).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import attrs

from tests.ports import free_port


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl: $PG_BIN, Debian's newest, or the PATH's; None if none."""
    if os.environ.get("PG_BIN"):
        chosen = Path(os.environ["PG_BIN"])
        return chosen if (chosen / "initdb").exists() else None
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _scratch(durable: bool) -> str | None:
    """Where a cluster lives: in memory (/dev/shm) when it need not survive a crash, since each
    test's CREATE DATABASE copies a 7 MB template: 0.06 s there, 0.2-0.7 s on a busy disk."""
    shm = "/dev/shm"
    if not durable and os.path.isdir(shm) and os.access(shm, os.W_OK):
        return shm
    return None


@attrs.define
class Cluster:
    folder: Path
    port: int
    bin: Path
    _as_user: list[str]
    _settings: list[str] = attrs.field(factory=list)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://gptbot@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        subprocess.run(
            [*self._as_user, *command], check=True, capture_output=True, text=True, timeout=120
        )

    @classmethod
    def start(cls, *, durable: bool = False) -> Cluster:
        """initdb and start. ``durable``: commits wait for the disk (the benchmark); the tests
        run without fsync, since they test this code, not the server's durability."""
        bin_folder = binaries()
        if bin_folder is None:
            raise FileNotFoundError("PostgreSQL's initdb was not found")
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        folder = Path(tempfile.mkdtemp(prefix="gptbot-pg-", dir=_scratch(durable)))
        if as_user:
            shutil.chown(folder, "postgres", "postgres")
        cluster = cls(folder, free_port(), bin_folder, as_user)
        try:
            cluster._run(
                str(bin_folder / "initdb"), "-D", str(cluster.data), "-A", "trust", "-U",
                "gptbot", "-E", "UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip
            settings = [
                f"port={cluster.port}",
                "listen_addresses=127.0.0.1",
                f"unix_socket_directories={folder}",
                "max_connections=200",
                "shared_buffers=256MB",
            ]
            if not durable:
                settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
            cluster._settings = settings
            cluster.start_server()
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return cluster

    def start_server(self, patience: float = 60.0) -> None:
        """Start the server (again). After a SIGKILL the old server's processes may hold its
        shared memory for a moment: starting is tried again until ``patience`` runs out."""
        give_up = time.monotonic() + patience
        while True:
            try:
                self._run(
                    str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                    str(self.folder / "server.log"), "-w", "-t", "60",
                    "-o", " ".join(f"-c {s}" for s in self._settings), "start",
                )  # fmt: skip
                return
            except subprocess.CalledProcessError:
                if time.monotonic() > give_up:
                    raise
                time.sleep(0.2)

    def stop_server(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m mode``: fast disconnects every client and shuts down cleanly."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def kill_server(self) -> None:
        """SIGKILL the postmaster, as the out-of-memory killer would."""
        pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)
        while True:  # until it is gone, so that a start after this starts a new one
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (one a test left stopped or killed is fine) and delete it all."""
        try:
            subprocess.run(
                [*self._as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m",
                 "immediate", "stop"],
                check=False, capture_output=True, timeout=120,
            )  # fmt: skip
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.folder / "server.log").read_text(errors="replace")
        except OSError:
            return ""
