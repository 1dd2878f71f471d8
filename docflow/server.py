"""Find or start the Prefect API that flows and Dask workers report to.

Dask process workers each need a real Prefect API: with Prefect's ephemeral mode every worker
process would start its own temporary server on the same SQLite file. So when no
PREFECT_API_URL is configured, docflow starts one `prefect server start` on a free loopback
port, remembers it under DOCFLOW_HOME and reuses it on later runs (no 8 s start-up per run).

Anyone who can reach a Prefect API can start runs, read logs and block documents, so the
managed server requires Prefect's basic-auth string: generated once, kept in
$DOCFLOW_HOME/api-auth (mode 0600) and handed to every client docflow starts as
PREFECT_API_AUTH_STRING. Loopback alone does not keep other users of the machine out.

A new SQLite database costs a server start about 12 s of migrations and block registration,
which was most of a first `docflow ingest` on a new home. Setup therefore migrates one database
per installed Prefect version (build_template) and every new home starts from a copy of it: it
holds only the schema and Prefect's block types, the same rows every fresh server writes
first, and the server still checks and applies migrations on start.

The caller of start_api overlaps its own imports with the server's start and waits only when
it needs the API.

This module must not import prefect: the API URL has to be in the environment before prefect
reads its settings, in this process and in every worker it spawns."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
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


def ensure_api(home: Path, database: str | None = None) -> ServerInfo:
    """Use the configured Prefect API, else the docflow-managed local server, else start it
    (on `database` when given, see start_server)."""
    return start_api(home, database)()


def start_api(home: Path, database: str | None = None) -> Callable[[], ServerInfo]:
    """ensure_api in two halves: this process (and what it spawns) is pointed at the API at
    once, and the returned call waits until the API answers. A server being started keeps
    the start lock until then, so a second docflow process waits for it instead of starting
    another."""
    configured = configured_api_url()
    if configured:
        info = ServerInfo(configured, None, False)
        use_server(home, info)
        return lambda: info
    from filelock import FileLock

    home.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(home / "server.lock"), timeout=START_TIMEOUT_S + 30)
    lock.acquire()
    try:
        running = managed_server(home)
        if running:
            use_server(home, running)
            lock.release()
            return lambda: running
        state = _booting_server(home) or _spawn(home, database=database)
        use_server(home, ServerInfo(state["url"], state["pid"], True))
    except BaseException:
        lock.release()
        raise

    def ready() -> ServerInfo:
        try:
            return _await_healthy(home, state["url"], state["pid"])
        finally:
            lock.release()

    return ready


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


def start_server(home: Path, port: int | None = None, auth: bool = True, database: str | None = None) -> ServerInfo:
    """`auth` off only for test sessions whose helpers speak plain HTTP to the API.
    `database`: a PostgreSQL URL for the server's database instead of SQLite under `home`,
    which is what Prefect recommends once runs hold thousands of task runs (SQLite serializes
    every write and starts answering "database is locked")."""
    state = _spawn(home, port=port, auth=auth, database=database)
    return _await_healthy(home, state["url"], state["pid"])


def _is_server(pid: int) -> bool:
    """A live server process docflow started (not a pid the system has since reused). Right
    after the spawn the child may still be in exec, with an empty command line."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State:"))
    except (OSError, StopIteration):
        return False
    return "zombie" not in state and (not command or b"docflow.prefect_server" in command)


def _booting_server(home: Path) -> dict | None:
    """The recorded server when it is alive but not answering yet: its starter was killed (a
    kill -9 of the CLI) before it answered, and the next command waits for it rather than
    start a second server on the same database."""
    try:
        state = json.loads(_state_file(home).read_text())
    except (OSError, ValueError):
        return None
    return state if _is_server(state.get("pid", 0)) else None


def _spawn(home: Path, port: int | None = None, auth: bool = True, database: str | None = None,
           seed: bool = True) -> dict:
    """Start the server and record it at once (see _booting_server)."""
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
    elif seed and not env.get("PREFECT_API_DATABASE_CONNECTION_URL"):
        seed_database(home / "prefect")
    log = open(home / "server.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "docflow.prefect_server", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # survives the CLI, and Ctrl-C in the CLI does not reach it
    )
    state = {"url": url, "pid": process.pid, "port": port}
    _state_file(home).write_text(json.dumps(state))
    return state


def _await_healthy(home: Path, url: str, pid: int) -> ServerInfo:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap our own child if it exited, so it is not alive
        if not _is_server(pid):
            log = home / "server.log"
            tail = log.read_text(errors="replace")[-1500:].strip() if log.exists() else ""
            raise RuntimeError(f"prefect server exited early; see {log}" + (f":\n{tail}" if tail else ""))
        if healthy(url, timeout=1.0):
            return ServerInfo(url, pid, True)
        time.sleep(0.1)
    os.killpg(pid, signal.SIGKILL)
    raise RuntimeError(f"prefect server did not answer within {START_TIMEOUT_S:.0f}s")


# What a server writes under its PREFECT_HOME on a new SQLite database: the database and the
# memo of the block types it registered (without the memo it registers them all again).
_TEMPLATE_FILES = ("prefect.db", "memo_store.toml")


def template_dir() -> Path:
    """The migrated database for the installed Prefect version, beside the environment it
    belongs to: another Prefect version has another schema and finds no template."""
    return Path(sys.prefix) / "share" / "docflow" / f"prefect-{version('prefect')}"


def seed_database(prefect_home: Path, source: Path | None = None) -> bool:
    """A home without a database gets a copy of the template (`source`, default
    template_dir()), when one was built. An existing database is never touched."""
    source = source or template_dir()
    if (prefect_home / "prefect.db").exists() or not (source / "prefect.db").exists():
        return False
    _copy_template_files(source, prefect_home)
    return True


def _copy_template_files(source: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in _TEMPLATE_FILES:
        if (source / name).exists():
            partial = dest / f".{name}.partial"
            shutil.copyfile(source / name, partial)
            partial.replace(dest / name)  # never a half-copied database


def build_template(target: Path | None = None) -> Path:
    """Start a server on an empty home (so it migrates and registers its block types), stop
    it, fold its write-ahead log into the database and keep the files as the template
    (`target`, default template_dir())."""
    target = target or template_dir()
    if (target / "prefect.db").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".template-") as scratch:
        home = Path(scratch) / "home"
        state = _spawn(home, auth=False, seed=False)
        try:
            _await_healthy(home, state["url"], state["pid"])
        finally:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):  # gone already
                os.killpg(state["pid"], signal.SIGTERM)
                os.waitpid(state["pid"], 0)
        with contextlib.closing(sqlite3.connect(home / "prefect" / "prefect.db")) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        built = Path(scratch) / "template"
        _copy_template_files(home / "prefect", built)
        try:
            built.rename(target)
        except OSError:  # another setup built it meanwhile
            if not (target / "prefect.db").exists():
                raise
    return target


if __name__ == "__main__":
    print(build_template())
