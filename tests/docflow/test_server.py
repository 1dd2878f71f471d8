"""The docflow-managed Prefect server: it requires its auth string (docflow's own commands bring
it), a new home starts from the migrated template, and one home gets one server."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from docflow import server
from tests import docbuilders as b

pytestmark = pytest.mark.e2e


def test_the_api_refuses_callers_without_the_auth_string_and_docflow_still_works(tmp_path):
    home, src, db = tmp_path / "home", tmp_path / "src", tmp_path / "db"
    b.make_corpus(src, 2)
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING")}
    env.update(DOCFLOW_HOME=str(home), DOCFLOW_WORKERS="1")

    def docflow(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "docflow.cli", *args], capture_output=True, text=True,
                              timeout=600, env=env)

    try:
        started = docflow("server", "start")
        assert started.returncode == 0, started.stderr
        api = json.loads((home / "server.json").read_text())["url"]
        secret = home / "api-auth"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        user, password = secret.read_text().strip().split(":", 1)

        assert httpx.post(f"{api}/flows/filter", json={}).status_code == 401
        assert httpx.get(f"{api}/admin/settings").status_code == 401
        assert httpx.post(f"{api}/flows/filter", json={}, auth=(user, "wrong")).status_code == 401
        assert httpx.get(f"{api}/health").status_code == 200  # probes stay open
        settings = httpx.get(f"{api}/admin/settings", auth=(user, password))
        assert settings.status_code == 200 and password not in settings.text
        assert settings.json()["server"]["api"]["auth_string"] not in (None, "")

        ingested = docflow("ingest", str(src), "--db", str(db), "--json")
        assert ingested.returncode == 0, ingested.stderr[-3000:]
        assert json.loads(ingested.stdout)["documents_processed"] == 2
        runs = docflow("runs", "--json")
        assert runs.returncode == 0, runs.stderr[-3000:]
        assert [r["state"] for r in json.loads(runs.stdout)["runs"]] == ["COMPLETED"]
        # A second `server start` finds the same server and keeps the same string.
        assert docflow("server", "start").returncode == 0
        assert secret.read_text().strip() == f"{user}:{password}"
    finally:
        server.stop_server(home)


def _schema(database) -> tuple:
    """Migration head, every table's and index's definition (its lines sorted: migrations
    emit a table's constraints in no fixed order) and the registered block types."""
    import sqlite3

    with sqlite3.connect(database) as db:
        objects = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        return (
            db.execute("SELECT version_num FROM alembic_version").fetchall(),
            [(kind, name, sorted(line.strip().rstrip(",") for line in (sql or "").splitlines()))
             for kind, name, sql in objects],
            db.execute("SELECT slug FROM block_type ORDER BY slug").fetchall(),
        )


def test_a_new_home_starts_from_the_installed_template_which_matches_a_freshly_migrated_database(tmp_path):
    installed = server.build_template()  # setup builds it; a no-op then
    fresh = server.build_template(tmp_path / "fresh")
    assert fresh != installed
    assert _schema(fresh / "prefect.db") == _schema(installed / "prefect.db")
    assert _schema(installed / "prefect.db")[2]  # the block types are in it

    home = tmp_path / "home"
    info = server.start_server(home)
    try:
        assert _schema(home / "prefect" / "prefect.db")[0] == _schema(installed / "prefect.db")[0]
        user, password = (home / "api-auth").read_text().strip().split(":", 1)
        blocks = httpx.post(f"{info.url}/block_types/filter", json={}, auth=(user, password))
        assert blocks.status_code == 200 and len(blocks.json()) > 10
    finally:
        server.stop_server(home)


def test_seeding_never_touches_an_existing_database(tmp_path):
    template = tmp_path / "template"
    template.mkdir()
    (template / "prefect.db").write_bytes(b"template")
    (template / "memo_store.toml").write_text("memo")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "prefect.db").write_bytes(b"my runs")

    assert not server.seed_database(mine, template)
    assert (mine / "prefect.db").read_bytes() == b"my runs"
    assert not (mine / "memo_store.toml").exists()
    assert server.seed_database(tmp_path / "new", template)
    assert (tmp_path / "new" / "prefect.db").read_bytes() == b"template"
    assert not server.seed_database(tmp_path / "none", tmp_path / "no-template")


def _servers_of(home) -> list[int]:
    """Live Prefect server processes docflow started for `home`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"docflow.prefect_server" in command and f"PREFECT_HOME={home / 'prefect'}".encode() in environ:
            found.append(int(proc.name))
    return found


def test_two_first_commands_on_a_new_home_share_the_one_server_they_start(tmp_path):
    """Each command imports its libraries while the server it found missing boots; the second
    waits for the first one's server instead of starting another."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING")}
    env.update(DOCFLOW_HOME=str(home))
    sources = []
    for i in range(2):
        sources.append(tmp_path / f"src{i}")
        b.make_corpus(sources[-1], 2)
    try:
        runs = [subprocess.Popen([sys.executable, "-m", "docflow.cli", "ingest", str(src), "--db",
                                  str(tmp_path / f"db{i}"), "--json"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env) for i, src in enumerate(sources)]
        for run in runs:
            out, err = run.communicate(timeout=600)
            assert run.returncode == 0, err[-3000:]
            assert json.loads(out)["documents_processed"] == 2
        assert len(_servers_of(home)) == 1
    finally:
        server.stop_server(home)
        for pid in _servers_of(home):  # a second server, when the test failed
            os.killpg(pid, signal.SIGTERM)


def test_a_command_killed_while_its_server_boots_leaves_that_server_to_the_next_one(tmp_path):
    """kill -9 of the CLI between starting the server and its first answer: the next command
    waits for that server instead of starting a second one on the same database."""
    home, src = tmp_path / "home", tmp_path / "src"
    b.make_corpus(src, 2)
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING")}
    env.update(DOCFLOW_HOME=str(home))
    command = [sys.executable, "-m", "docflow.cli", "ingest", str(src), "--db", str(tmp_path / "db"), "--json"]
    try:
        first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 120
        while not _servers_of(home) and time.monotonic() < deadline:
            time.sleep(0.02)
        first.kill()
        first.wait()
        assert len(_servers_of(home)) == 1

        second = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
        assert second.returncode == 0, second.stderr[-3000:]
        assert json.loads(second.stdout)["documents_processed"] == 2
        assert len(_servers_of(home)) == 1
    finally:
        server.stop_server(home)
        for pid in _servers_of(home):
            os.killpg(pid, signal.SIGTERM)
