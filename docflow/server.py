"""Find or start the Prefect API that flows and Dask workers report to.

Dask process workers each need a real Prefect API: with Prefect's ephemeral mode every worker
process would start its own temporary server on the same SQLite file. So when no
PREFECT_API_URL is configured, docflow starts one `prefect server start` on a free loopback
port, remembers it under DOCFLOW_HOME and reuses it on later runs (no 8 s start-up per run).

Anyone who can reach a Prefect API can start runs, read logs and block documents, so the
managed server requires Prefect's basic-auth string: generated once, kept in
$DOCFLOW_HOME/api-auth (mode 0600) and handed to every client docflow starts as
PREFECT_API_AUTH_STRING. Loopback alone does not keep other users of the machine out.

This module must not import prefect: the API URL has to be in the environment before prefect
reads its settings, in this process and in every worker it spawns."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class ServerInfo:
    url: str
    pid: int | None
    managed: bool


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as reply:
            return reply.status == 200
    except OSError:
        return False


def configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    profiles = Path(os.environ.get("PREFECT_PROFILES_PATH", "")) if os.environ.get(
        "PREFECT_PROFILES_PATH"
    ) else Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser() / "profiles.toml"
    if not profiles.exists():
        return None
    import tomllib

    data = tomllib.loads(profiles.read_text())
    active = os.environ.get("PREFECT_PROFILE") or data.get("active", "ephemeral")
    return data.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")


def _state_file(home: Path) -> Path:
    return home / "server.json"


def auth_file(home: Path) -> Path:
    return home / "api-auth"


def auth_string(home: Path) -> str:
    """The managed server's `user:password`, created on first use, readable by its owner only."""
    path = auth_file(home)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    value = f"docflow:{secrets.token_urlsafe(32)}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another docflow process won the race: use its string
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def use_server(home: Path, info: ServerInfo) -> None:
    """Point this process, and every process it starts (Dask workers, flow runs), at `info`.
    A managed server also needs its auth string; a configured API brings its own."""
    os.environ["PREFECT_API_URL"] = info.url
    if info.managed and auth_file(home).exists():
        os.environ["PREFECT_API_AUTH_STRING"] = auth_string(home)


def managed_server(home: Path) -> ServerInfo | None:
    try:
        state = json.loads(_state_file(home).read_text())
    except (OSError, ValueError):
        return None
    if healthy(state["url"]):
        return ServerInfo(state["url"], state.get("pid"), True)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prefect_database_url(database: str) -> str:
    """Prefect's server talks to PostgreSQL through asyncpg: `postgresql://…` (what psql and
    most tools print) becomes `postgresql+asyncpg://…`."""
    scheme, sep, rest = database.partition("://")
    if not sep or scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ValueError(f"not a PostgreSQL URL (postgresql://user:password@host:port/db): {database!r}")
    return f"postgresql+asyncpg://{rest}"


def start_server(home: Path, port: int | None = None, auth: bool = True, database: str | None = None) -> ServerInfo:
    """`auth` off only for test sessions whose helpers speak plain HTTP to the API.
    `database`: a PostgreSQL URL for the server's database instead of SQLite under `home`,
    which is what Prefect recommends once runs hold thousands of task runs (SQLite serializes
    every write and starts answering "database is locked")."""
    home.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env.update(
        PREFECT_HOME=str(home / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_API_URL=url,
    )
    env.pop("PREFECT_SERVER_API_AUTH_STRING", None)
    if auth:
        env["PREFECT_SERVER_API_AUTH_STRING"] = auth_string(home)
    else:
        auth_file(home).unlink(missing_ok=True)
    if database:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_database_url(database)
    log = open(home / "server.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "docflow.prefect_server", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # survives the CLI, and Ctrl-C in the CLI does not reach it
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited early; see {home / 'server.log'}")
        if healthy(url, timeout=1.0):
            _state_file(home).write_text(json.dumps({"url": url, "pid": process.pid, "port": port}))
            return ServerInfo(url, process.pid, True)
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"prefect server did not answer within {START_TIMEOUT_S:.0f}s")


def ensure_api(home: Path, database: str | None = None) -> ServerInfo:
    """Use the configured Prefect API, else the docflow-managed local server, else start it
    (on `database` when given, see start_server)."""
    configured = configured_api_url()
    if configured:
        info = ServerInfo(configured, None, False)
    else:
        from filelock import FileLock

        home.mkdir(parents=True, exist_ok=True)
        with FileLock(str(home / "server.lock"), timeout=START_TIMEOUT_S + 30):
            info = managed_server(home) or start_server(home, database=database)
    use_server(home, info)
    return info


def stop_server(home: Path) -> bool:
    info = managed_server(home)
    if info is None or info.pid is None:
        return False
    try:
        os.killpg(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and healthy(info.url, timeout=0.5):
        time.sleep(0.2)
    _state_file(home).unlink(missing_ok=True)
    return True
