"""The Prefect UI, as a person sees it: a real server's flow run page in headless Chromium.

Screenshots go to test-artifacts/ (the README's walk-through shows them)."""

import json
import time

import httpx
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


def test_flow_run_page_shows_what_the_run_did(cli, prefect_api, tmp_path):
    src, db = tmp_path / "src", tmp_path / "db"
    docs = b.make_corpus(src, 4)
    b.make_corrupt_pdf(src / "broken.pdf")
    result = cli("ingest", str(src), "--db", str(db), "--table", "handbook", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    run = json.loads(cli("runs", "--json", "-n", "1").stdout)["runs"][0]
    assert run["name"] == "ingest handbook ← src/"
    ui = prefect_api.removesuffix("/api")

    browser = Browser()
    try:
        browser.open(f"{ui}/runs/flow-run/{run['flow_run_id']}")
        browser.wait_for_text("ingest handbook ← src/", "Artifacts")
        click_tab(browser, "Task Runs")
        names = [t["name"] for t in httpx.post(f"{prefect_api}/task_runs/filter", json={
            "flow_runs": {"id": {"any_": [run["flow_run_id"]]}}}).json()]
        failed = [n for n in names if n.endswith(" failed")]
        assert len(failed) == 1 and "1 of " in failed[0], names  # the broken pdf's batch says so
        browser.wait_for_text(*names)  # every batch, named by its documents
        time.sleep(2)  # the run's timeline is drawn after the text is in place
        browser.screenshot(ARTIFACTS / "ui-task-runs.png")
        browser.click("#artifacts")
        page = browser.wait_for_text(
            "docflow-ingest-handbook-report", "docflow-ingest-handbook-failures",
            "docflow-ingest-handbook-documents", "docflow-ingest-handbook-summary",
            # the cards' descriptions can arrive after their titles
            "1 failed document", "all 5 documents of this run", "ingest report (completed)",
            "ingest handbook: 4 done, 1 failed of 5 documents to process",
        )
        assert "1 failed documents" not in page
        browser.screenshot(ARTIFACTS / "ui-flow-run-artifacts.png")

        browser.click_text("docflow-ingest-handbook-documents")
        rows = table_rows(browser, "broken.pdf", *(d.name for d in docs))
        outcomes = {r[0]: r[1] for r in rows if len(r) > 1}
        assert outcomes == {"broken.pdf": "failed"} | {d.name: "done" for d in docs}, rows
        browser.wait_for_text("finished: 4 done, 1 failed, 0 skipped of 5")  # the run's state message
        time.sleep(2)  # the table's cells fade in after they are in the DOM
        browser.screenshot(ARTIFACTS / "ui-documents-table.png")

        browser.open(f"{ui}/runs/flow-run/{run['flow_run_id']}")
        browser.wait_for_text("Artifacts")
        browser.click("#artifacts")
        browser.click_text("docflow-ingest-handbook-summary")
        summary = {r[0]: r[1] for r in table_rows(browser, "failures_by_class.parse", "documents_processed") if len(r) > 1}
        assert summary["failures_by_class.parse"] == "1" and summary["documents_processed"] == "4"
        assert not [v for v in summary.values() if v.startswith(("{", "[", '"'))], summary
        time.sleep(2)
        browser.screenshot(ARTIFACTS / "ui-summary-table.png")

        browser.open(f"{ui}/runs/flow-run/{run['flow_run_id']}")
        browser.wait_for_text("Artifacts")
        browser.click("#artifacts")
        browser.click_text("docflow-ingest-handbook-report")
        report = browser.wait_for_text("docflow ingest of handbook: completed", "documents_processed")
        assert "documents_failed\t1" in report and "chunks_written" in report
        assert "--retry-failed" in report
        browser.screenshot(ARTIFACTS / "ui-ingest-report.png")
    finally:
        browser.close()


ROWS_JS = """Array.from(document.querySelectorAll('tbody tr'))
  .map(r => Array.from(r.querySelectorAll('td')).map(c => c.innerText.trim()))"""


def table_rows(browser: Browser, *needles: str, timeout: float = 60) -> list[list[str]]:
    """The rendered table's body rows once every needle is a whole cell and two reads agree:
    the UI redraws its rows while they fade in, so one read can catch a half-drawn table."""
    deadline = time.monotonic() + timeout
    rows: list = []
    while time.monotonic() < deadline:
        previous, rows = rows, browser.evaluate(ROWS_JS) or []
        cells = {cell for row in rows for cell in row}
        if rows == previous and all(n in cells for n in needles):
            return rows
        time.sleep(0.5)
    raise AssertionError(f"no settled table shows all of {needles!r}; rows: {rows}")


def test_custom_run_form_explains_the_parameters(prefect_api):
    """The deployment form the UI builds from the strict schema `docflow deploy` sets: every
    parameter with its description, nothing swallowed as HTML, `db`'s default explained."""
    from prefect.client.orchestration import get_client
    from prefect.utilities.callables import parameter_schema

    from deployments.registry import get
    from deployments.schema import strict
    from flows.ingest import ingest

    schema = strict(parameter_schema(ingest).model_dump(), get("ingest"))
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("docflow-ingest")
        deployment_id = client.create_deployment(
            flow_id=flow_id, name="ui-form", parameter_openapi_schema=schema, enforce_parameter_schema=True
        )
    browser = Browser()
    try:
        browser.open(f"{prefect_api.removesuffix('/api')}/deployments/deployment/{deployment_id}/run")
        form = browser.wait_for_text(
            "Required unless source names a document source block",
            "its ledger is the table TABLE_ledger beside it",
            "relative to the flow run's working directory",
        )
        assert "<table>" not in form
        browser.screenshot(ARTIFACTS / "ui-custom-run-form.png")
    finally:
        browser.close()
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)


def click_tab(browser: Browser, label: str, timeout: float = 30) -> None:
    """Tabs hold their label in nested elements, out of reach of an exact text() match."""
    script = (
        "(() => { const tab = Array.from(document.querySelectorAll('[role=tab], button, a, li'))"
        f".find(e => e.innerText && e.innerText.trim() === {json.dumps(label)});"
        " if (!tab) return false; tab.click(); return true; })()"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if browser.evaluate(script):
            return
        time.sleep(0.5)
    raise AssertionError(f"no tab {label!r} to click")
