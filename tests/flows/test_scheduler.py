"""The batch scheduler on a real Prefect flow run (thread pool task runner, real API): back-
pressure, resubmission per policy, a stopping error, failures once the policy is spent, and the
cancel path's record of what was in flight."""

import logging
import os
import signal
import threading
import time

import pytest
from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

from docflow.core.errors import DocflowSystemError, TransientError
from docflow.core.models import BatchResult, DocOutcome, DocRef, DocStatus
from docflow.core.retry import RetryPolicies, RetryPolicy
from docflow.core.summary import RunCounters
from flows.interrupt import Interrupted
from flows.progress import Progress
from flows.scheduler import BatchScheduler

pytestmark = pytest.mark.usefixtures("prefect_api")


class Recorder:
    """What the batch task saw: how many ran at once, and each call's (first doc, resumed)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.calls: list[tuple[str, bool]] = []
        self.failures_left: dict[str, int] = {}


RECORDER = Recorder()


@task(name="scheduler-test-batch", persist_result=False)
def record_batch(docs: list[DocRef], ctx: str, resumed: bool = False) -> BatchResult:
    """`ctx` names the behaviour: "ok", "flaky" (fails while failures_left says so), "stop"
    (the batch holding s0 raises a system error), "interrupt" (SIGINT to the flow)."""
    first = docs[0].doc_id
    with RECORDER.lock:
        RECORDER.running += 1
        RECORDER.most = max(RECORDER.most, RECORDER.running)
        RECORDER.calls.append((first, resumed))
        left = RECORDER.failures_left.get(first, 0)
        RECORDER.failures_left[first] = max(0, left - 1)
    try:
        time.sleep(0.05)
        if ctx == "flaky" and left:
            raise TransientError(f"flaky {first}")
        if ctx == "stop" and first == "s0":
            raise DocflowSystemError("disk full")
        if ctx == "interrupt":
            if first == "i0":
                os.kill(os.getpid(), signal.SIGINT)
            time.sleep(2)
        return BatchResult(outcomes=tuple(DocOutcome(d.doc_id, d.fingerprint, DocStatus.DONE, chunk_count=1)
                                          for d in docs))
    finally:
        with RECORDER.lock:
            RECORDER.running -= 1


def refs(prefix: str, n: int) -> list[DocRef]:
    return [DocRef(f"{prefix}{i}", f"/s/{prefix}{i}", "/s", 1, 0, "", f"fp{i}", "txt") for i in range(n)]


def batches_of(docs: list[DocRef], size: int) -> list[list[DocRef]]:
    return [docs[i:i + size] for i in range(0, len(docs), size)]


@flow(task_runner=ThreadPoolTaskRunner(max_workers=8), persist_result=False)
def schedule(batches, ctx: str, policies: RetryPolicies, max_in_flight: int):
    counters = RunCounters(documents_total=sum(len(b) for b in batches))
    progress = Progress(counters, logging.getLogger("test"), counters.documents_total, 0, table="t")
    progress.start()
    outcome = "done"
    try:
        BatchScheduler(record_batch, ctx, policies, progress, max_in_flight).run(batches)
    except (DocflowSystemError, Interrupted) as exc:
        outcome = type(exc).__name__
    finally:
        progress.finish()
    return outcome, counters


@pytest.fixture(autouse=True)
def fresh_recorder():
    global RECORDER
    RECORDER = Recorder()
    yield


def test_every_batch_settles_and_no_more_than_max_in_flight_run_at_once():
    outcome, counters = schedule(batches_of(refs("d", 12), 1), "ok", RetryPolicies(), 3)
    assert outcome == "done" and counters.documents_processed == 12 and counters.documents_failed == 0
    assert RECORDER.most <= 3 and len(RECORDER.calls) == 12
    assert not any(resumed for _, resumed in RECORDER.calls)


def test_a_failed_batch_is_resubmitted_as_resumed_while_its_policy_allows():
    RECORDER.failures_left = {"f0": 2}
    outcome, counters = schedule(batches_of(refs("f", 4), 2), "flaky", RetryPolicies(), 2)
    assert outcome == "done" and counters.documents_processed == 4
    assert [resumed for first, resumed in RECORDER.calls if first == "f0"] == [False, True, True]


def test_a_batch_whose_policy_is_spent_fails_its_documents_at_the_batch_stage():
    RECORDER.failures_left = {"f0": 5}
    policies = RetryPolicies(transient=RetryPolicy(retries=1))
    outcome, counters = schedule(batches_of(refs("f", 4), 2), "flaky", policies, 2)
    assert outcome == "done"
    assert (counters.documents_processed, counters.documents_failed) == (2, 2)
    assert {(f["doc_id"], f["error_class"], f["attempts"], f["stage"]) for f in counters.failures} == {
        ("f0", "transient", 2, "batch"), ("f1", "transient", 2, "batch")}


def test_a_system_error_stops_submission_and_the_rest_stays_pending():
    outcome, counters = schedule(batches_of(refs("s", 10), 1), "stop", RetryPolicies(), 1)
    assert outcome == "DocflowSystemError"
    assert len(RECORDER.calls) == 1 and counters.documents_processed == 0
    assert counters.documents_pending == 9


def test_an_interrupt_cancels_and_records_every_unsettled_document():
    outcome, counters = schedule(batches_of(refs("i", 6), 2), "interrupt", RetryPolicies(), 2)
    assert outcome == "Interrupted"
    assert set(counters.unsettled) == {f"i{n}" for n in range(6)}
    assert counters.unsettled["i0"] == "fp0"
