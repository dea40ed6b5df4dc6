"""A real Matrix homeserver (Synapse) on 127.0.0.1 for the tests, in a folder of its own.

Synapse is installed in a virtual environment of its own (``SYNAPSE_VENV``, by default
``.synapse-venv`` in the repository: ``.ci/run`` makes it), since it pins libraries the bot does
not need. ``Synapse.start`` writes a configuration (SQLite, no TLS, no federation, a
registration secret), starts the server and waits until it answers; ``register`` makes an
account through the admin API's shared-secret registration and returns its access token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import attrs

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "gptbot-tests-registration-secret"
SERVER_NAME = "localhost"


def synapse_python() -> Path | None:
    """The Python of Synapse's virtual environment; None when it is not installed."""
    venv = Path(os.environ.get("SYNAPSE_VENV", ROOT / ".synapse-venv"))
    python = venv / "bin" / "python"
    return python if python.exists() else None


@attrs.define
class Synapse:
    folder: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, folder: Path, *, rate_limited: bool = False) -> Synapse:
        python = synapse_python()
        if python is None:
            raise RuntimeError("Synapse is not installed (SYNAPSE_VENV)")
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "homeserver.yaml"
        subprocess.run(
            [str(python), "-m", "synapse.app.homeserver", "--server-name", SERVER_NAME,
             "--config-path", str(config), "--data-directory", str(folder),
             "--generate-config", "--report-stats=no"],
            check=True, capture_output=True, cwd=folder,
        )  # fmt: skip
        port = free_port()
        # Appended keys win over the generated ones (YAML keeps the last of a duplicate key).
        generous = {"per_second": 1000, "burst_count": 1000}
        settings: dict[str, Any] = {
            "listeners": [
                {
                    "port": port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "registration_shared_secret": SECRET,
            "enable_registration": False,
            "report_stats": False,
            "federation_domain_whitelist": [],
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "rc_message": {"per_second": 0.5, "burst_count": 3} if rate_limited else generous,
            "rc_login": {"address": generous, "account": generous, "failed_attempts": generous},
            "rc_joins": {"local": generous, "remote": generous},
            "rc_invites": {"per_room": generous, "per_user": generous, "per_issuer": generous},
            "rc_registration": generous,
            "rc_admin_redaction": generous,
        }
        with config.open("a") as out:
            out.write("\n")  # the generated file ends without one
            for key, value in settings.items():
                out.write(f"{key}: {json.dumps(value)}\n")
        log = (folder / "synapse.out").open("wb")
        process = subprocess.Popen(
            [str(python), "-m", "synapse.app.homeserver", "--config-path", str(config)],
            stdout=log, stderr=subprocess.STDOUT, cwd=folder,
        )  # fmt: skip
        server = cls(folder, port, process)
        server._wait_until_up()
        return server

    def _wait_until_up(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Synapse exited: {(self.folder / 'synapse.out').read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("Synapse did not start in time")

    def register(self, user: str, password: str = "secret", *, admin: bool = False) -> str:
        """Register ``@user:localhost``; its access token."""
        nonce = self._call("GET", "/_synapse/admin/v1/register")["nonce"]
        body = {"nonce": nonce, "username": user, "password": password, "admin": admin}
        # The MAC covers nonce, user, password and admin joined by NULs, without a final one.
        mac = hmac.new(SECRET.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join(p.encode() for p in (nonce, user, password)))
        mac.update(b"\x00" + (b"admin" if admin else b"notadmin"))
        body["mac"] = mac.hexdigest()
        token: str = self._call("POST", "/_synapse/admin/v1/register", body)["access_token"]
        return token

    def _call(self, method: str, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()!r}") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


if __name__ == "__main__":  # python -m tests.servers.synapse FOLDER: a server to try things on
    server = Synapse.start(Path(sys.argv[1]))
    print(server.url, server.register("bot"), server.register("alice"), flush=True)
    try:
        server.process.wait()
    finally:
        server.stop()
