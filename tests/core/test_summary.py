"""Counters that add up: every document is processed, skipped, failed, deleted or pending, and
every discovered one was a cache hit or a miss, also when a concurrent run got there first."""

import json
import subprocess
import sys

import pytest

from docflow.core.models import BatchResult, DocOutcome, DocStatus, ErrorClass
from docflow.core.summary import RunCounters, discrepancies
from tests import docbuilders as b
from tests.flows.support import assert_exact


def _done(doc_id: str) -> DocOutcome:
    return DocOutcome(doc_id, "f", DocStatus.DONE, chunk_count=2)


def test_documents_a_concurrent_run_finished_first_turn_from_misses_into_hits():
    counters = RunCounters(documents_total=5, cache_hits=1, cache_misses=4, documents_skipped=1)
    counters.add_batch(BatchResult(outcomes=(_done("a"),), skipped_doc_ids=("b", "c")))
    counters.add_batch(BatchResult(outcomes=(DocOutcome("d", "f", DocStatus.FAILED, error_class=ErrorClass.PARSE),)))
    counters.outcome = "completed"
    summary = counters.as_dict()
    assert (summary["cache_hits"], summary["cache_misses"], summary["documents_skipped"]) == (3, 2, 3)
    assert discrepancies(summary) == []


def test_a_summary_that_does_not_add_up_is_named():
    counters = RunCounters(documents_total=3, cache_misses=3)
    counters.add_batch(BatchResult(outcomes=(_done("a"),)))
    counters.outcome = "cancelled"
    broken = discrepancies(counters.as_dict())
    assert broken == ["documents_total 3 != processed + skipped + failed + deleted + pending = 1"]
    counters.documents_pending = 2
    assert discrepancies(counters.as_dict()) == []
    counters.cache_hits = 1
    assert discrepancies(counters.as_dict()) == ["cache_hits 1 + cache_misses 3 != documents considered 3"]


@pytest.mark.e2e
def test_two_concurrent_runs_of_one_table_each_add_up(warm_cluster, tmp_path):
    src, db = tmp_path / "src", tmp_path / "db"
    docs = b.make_corpus(src, 24, kinds=("txt", "md"))
    command = [sys.executable, "-m", "docflow.cli", "ingest", str(src), "--db", str(db), "--batch-size", "2",
               "--address", warm_cluster, "--json"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    summaries = []
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err[-3000:]
        summaries.append(json.loads(out))
    for summary in summaries:
        assert discrepancies(summary) == [], (discrepancies(summary), summary)
        assert summary["documents_total"] == len(docs) and summary["documents_failed"] == 0
    assert_exact(db, {p.name for p in docs})
