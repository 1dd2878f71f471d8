"""Test session isolation and the real services the end-to-end tests use.

Everything Prefect and docflow keep on disk goes to one temporary directory per test session
(per pytest process: scripts/test.sh runs two, each with its own server and warm cluster):
prefect_test_harness-style isolation swaps the database but not result storage, so without a
session-private PREFECT_LOCAL_STORAGE_PATH cached results would leak between runs. These
variables are set at import time, before any test imports prefect."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

SESSION_DIR = Path(tempfile.mkdtemp(prefix="docflow-tests-"))
os.environ.update(
    PREFECT_HOME=str(SESSION_DIR / "prefect-home"),
    PREFECT_LOCAL_STORAGE_PATH=str(SESSION_DIR / "prefect-storage"),
    DOCFLOW_HOME=str(SESSION_DIR / "docflow-home"),
    PREFECT_SERVER_ANALYTICS_ENABLED="false",
    PREFECT_LOGGING_LEVEL="WARNING",
    DASK_DISTRIBUTED__LOGGING__DISTRIBUTED="warning",
)
os.environ.pop("PREFECT_API_URL", None)
for key in [k for k in os.environ if k.startswith("DOCFLOW_") and k != "DOCFLOW_HOME"]:
    os.environ.pop(key)

import docflow  # noqa: E402,F401  (offline environment)

ARTIFACTS = Path(os.environ.get("DOCFLOW_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts"))


@pytest.fixture(scope="session")
def prefect_api():
    """A real `prefect server start` on a free loopback port, for the whole session. Without
    the auth string: the tests' REST helpers and the UI tests speak plain HTTP to it
    (tests/test_server.py covers the authenticated managed server)."""
    from docflow import server

    info = server.start_server(SESSION_DIR / "server", auth=False)
    os.environ["PREFECT_API_URL"] = info.url
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: info.url}):
        yield info.url
    server.stop_server(SESSION_DIR / "server")


@pytest.fixture(scope="session")
def warm_cluster(prefect_api):
    """One real `dask scheduler` and two `dask worker` processes for the session. Most
    end-to-end tests run their flows on it by address, so each run skips the ~10 s of worker
    start-up and model loading a fresh local cluster costs; the default path keeps its own tests
    (test_ingest, test_cancel, test_disk_full, test_in_process, the deployment tests)."""
    from tests.daskcluster import dask_cluster

    with dask_cluster(SESSION_DIR / "dask") as (address, _):
        yield address


def run_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """The installed console script's code path, in a fresh process like a user's shell."""
    return subprocess.run(
        [sys.executable, "-m", "docflow.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def cli(prefect_api):
    """The CLI as a user runs it: a fresh local Dask cluster, or for a run of a few documents
    (DOCFLOW_IN_PROCESS_MAX_DOCS) the CLI's own process."""
    return run_cli


@pytest.fixture
def warm_cli(prefect_api, warm_cluster):
    """The CLI on the session's warm cluster (DOCFLOW_ADDRESS)."""

    def run(*args: str, env: dict | None = None, timeout: float = 600):
        return run_cli(*args, env={"DOCFLOW_ADDRESS": warm_cluster, **(env or {})}, timeout=timeout)

    return run
