"""The docflow-managed Prefect server requires its auth string; docflow's own commands bring it."""

import json
import os
import stat
import subprocess
import sys

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
