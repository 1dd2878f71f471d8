"""The docflow-managed Prefect server on a real PostgreSQL: Debian's postgresql, installed if it is
missing, initialised and started by the test on a loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests import docbuilders as b

pytestmark = pytest.mark.e2e
PG_ROOT = Path("/usr/lib/postgresql")


def _bindir() -> Path | None:
    versions = sorted(PG_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


def _install() -> str:
    """'' when Debian's postgresql is (now) installed, else why not."""
    if _bindir() is not None:
        return ""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "postgresql is not installed and this user cannot apt-get install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            return f"apt-get could not install postgresql: {done.stderr.strip()[-300:]}"
    return "" if _bindir() is not None else "postgresql installed but no initdb under /usr/lib/postgresql"


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
def postgres():
    reason = _install()
    if reason:
        pytest.skip(reason)
    bindir = _bindir()
    base = Path(tempfile.mkdtemp(prefix="docflow-pg-", dir="/tmp"))
    data, sockets = base / "data", base / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = lambda *cmd: subprocess.run(_as_postgres([str(c) for c in cmd]), check=True,  # noqa: E731
                                      capture_output=True, text=True, timeout=120)
    run(bindir / "initdb", "-D", data, "-U", "docflow", "--auth=trust", "-E", "UTF8")
    run(bindir / "pg_ctl", "-D", data, "-l", base / "postgres.log", "-w", "start",
        "-o", f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1")
    try:
        run(bindir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "docflow", "prefect")
        yield f"postgresql://docflow@127.0.0.1:{port}/prefect", lambda sql: run(
            bindir / "psql", "-h", "127.0.0.1", "-p", port, "-U", "docflow", "-d", "prefect", "-tAc", sql
        ).stdout.strip()
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def test_the_managed_server_keeps_its_runs_in_postgresql(postgres, tmp_path):
    url, sql = postgres
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(DOCFLOW_HOME=str(home), DOCFLOW_WORKERS="1")

    def docflow(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "docflow.cli", *args], capture_output=True,
                              text=True, env=env, timeout=600)

    refused = docflow("server", "start", "--database", "mysql://nope@127.0.0.1/prefect")
    assert refused.returncode == 2 and "not a PostgreSQL URL" in refused.stderr
    started = docflow("server", "start", "--database", url)
    assert started.returncode == 0, started.stderr[-2000:]
    try:
        src = tmp_path / "src"
        b.make_corpus(src, 3, kinds=("txt", "md"))
        ingest = docflow("ingest", str(src), "--db", str(tmp_path / "db"), "--json")
        assert ingest.returncode == 0, ingest.stderr[-3000:]
        assert sql("select count(*) from flow_run where name is not null") == "1"
        assert int(sql("select count(*) from task_run")) >= 1
        assert sql("select state_type from flow_run") == "COMPLETED"
    finally:
        docflow("server", "stop")
    log = (home / "server.log").read_text()
    assert "database is locked" not in log and "Traceback" not in log, log[-3000:]
