"""The Prefect UI, as a person sees it: a real server's flow run page in headless Chromium."""

import json

import pytest

from tests import docbuilders as b
from tests.browser import Browser, chromium_path
from tests.conftest import ARTIFACTS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        chromium_path() is None,
        reason="Debian's chromium is not installed (scripts/setup.sh installs it with DOCFLOW_WITH_BROWSER=1)",
    ),
]


@pytest.fixture
def cli(warm_cli):
    """These flows run on the session's warm Dask cluster, by address."""
    return warm_cli


def test_flow_run_page_shows_progress_and_report_artifacts(cli, prefect_api, tmp_path):
    src, db = tmp_path / "src", tmp_path / "db"
    b.make_corpus(src, 4)
    b.make_corrupt_pdf(src / "broken.pdf")
    result = cli("ingest", str(src), "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    run = json.loads(cli("runs", "--json", "-n", "1").stdout)["runs"][0]
    ui = prefect_api.removesuffix("/api")

    browser = Browser()
    try:
        browser.open(f"{ui}/runs/flow-run/{run['flow_run_id']}")
        browser.wait_for_text(run["name"], "Artifacts")
        browser.click("#artifacts")
        page = browser.wait_for_text("PROGRESS", "docflow-ingest-report", "docflow-ingest-failures")
        assert "1 failed documents" in page and "ingest report (completed)" in page
        browser.screenshot(ARTIFACTS / "ui-flow-run-artifacts.png")

        browser.click_text("docflow-ingest-report")
        report = browser.wait_for_text("docflow ingest: completed", "documents_processed")
        assert "documents_failed\t1" in report and "chunks_written" in report
        assert "--retry-failed" in report
        browser.screenshot(ARTIFACTS / "ui-ingest-report.png")
    finally:
        browser.close()
