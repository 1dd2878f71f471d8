import errno

import pytest

from docflow.core.errors import ERROR_TABLE, DocflowSystemError, ParseError, SourceError, TransientError, classify
from docflow.core.models import DocOutcome, DocStatus, ErrorClass, Stage
from docflow.core.retry import RetryPolicies


@pytest.mark.parametrize(
    ("exc", "stage", "expected"),
    [
        (TimeoutError("read timed out"), "parse", ErrorClass.TRANSIENT),
        (ConnectionResetError("reset by peer"), "parse", ErrorClass.TRANSIENT),
        (OSError(errno.EAGAIN, "try again"), "parse", ErrorClass.TRANSIENT),
        (RuntimeError("Retryable commit conflict for version 7"), "write", ErrorClass.TRANSIENT),
        (FileNotFoundError(errno.ENOENT, "gone"), "parse", ErrorClass.MISSING),
        (PermissionError(errno.EACCES, "denied"), "parse", ErrorClass.MISSING),
        (MemoryError(), "embed", ErrorClass.RESOURCE),
        (ValueError("bad xref"), "parse", ErrorClass.PARSE),
        (OSError(errno.ENOSPC, "No space left on device"), "write", ErrorClass.SYSTEM),
        (OSError(errno.ENOSPC, "No space left on device"), "parse", ErrorClass.SYSTEM),
        (PermissionError(errno.EACCES, "denied"), "write", ErrorClass.SYSTEM),
        (ValueError("schema mismatch"), "write", ErrorClass.SYSTEM),
        (RuntimeError("model exploded"), "embed", ErrorClass.SYSTEM),
        # Infrastructure, not documents: a corrupt manifest, an object store that does not answer.
        (RuntimeError("lance error: LanceError(IO): file size is too small"), "flow", ErrorClass.SYSTEM),
        (RuntimeError("lance error: LanceError(IO): file size is too small"), "parse", ErrorClass.SYSTEM),
        (ValueError("Invalid input, Failed to connect to namespace: tcp connect error, Connection refused"),
         "flow", ErrorClass.TRANSIENT),
        (ValueError("Generic S3 error: dns error: failed to lookup address"), "write", ErrorClass.TRANSIENT),
        (KeyError("schema"), "flow", ErrorClass.SYSTEM),
    ],
)
def test_classify_maps_exceptions_by_type_and_stage(exc, stage, expected):
    error = classify(exc, stage)
    assert error.error_class is expected
    assert error.stage == stage
    assert error.__cause__ is exc
    assert type(exc).__name__ in error.message


def test_killed_worker_is_a_resource_error():
    from types import SimpleNamespace

    from distributed.scheduler import KilledWorker

    killed = KilledWorker("process-batch-1", SimpleNamespace(address="tcp://127.0.0.1:1"), 3)
    assert classify(killed, "batch").error_class is ErrorClass.RESOURCE
    assert classify(KilledWorker("t", "not-a-worker", 3), "batch").error_class is ErrorClass.RESOURCE


def test_classify_keeps_taxonomy_errors_and_fills_their_stage():
    original = ParseError("encrypted PDF")
    assert classify(original, "parse") is original
    assert original.stage == "parse"
    assert classify(TransientError("x", stage="write"), "parse").stage == "write"


def test_a_task_a_worker_cannot_deserialize_stops_the_run():
    exc = RuntimeError("Error during deserialization of the task graph. This frequently occurs if the "
                       "Scheduler and Client have different environments.")
    error = classify(exc, "batch")
    assert error.error_class is ErrorClass.SYSTEM and "different environments" in error.message


def test_system_error_is_its_own_class():
    assert DocflowSystemError("disk full").error_class is ErrorClass.SYSTEM


def test_the_error_table_covers_every_class_and_each_rule_has_one_reading():
    assert set(ERROR_TABLE) == set(ErrorClass)
    # Exactly the classes a retry cannot fix are checkpointed; only system stops the run.
    assert {c for c, r in ERROR_TABLE.items() if r.final} == {ErrorClass.PARSE, ErrorClass.MISSING}
    assert {c for c, r in ERROR_TABLE.items() if r.stops_run} == {ErrorClass.SYSTEM}
    assert {c for c, r in ERROR_TABLE.items() if r.resubmitted} == {ErrorClass.TRANSIENT, ErrorClass.RESOURCE}
    assert all(r.advice for r in ERROR_TABLE.values())


@pytest.mark.parametrize("error_class", list(ErrorClass))
def test_what_reads_the_table_agrees_with_it(error_class):
    rules = ERROR_TABLE[error_class]
    failed = DocOutcome("d", "f", DocStatus.FAILED, error_class=error_class)
    assert failed.final is rules.final
    assert RetryPolicies().for_class(error_class).stop_run is rules.stops_run


def test_a_source_error_is_a_system_error_of_discovery():
    error = SourceError("source does not exist: /nope")
    assert error.error_class is ErrorClass.SYSTEM and error.stage is Stage.DISCOVER
    assert classify(error, Stage.FLOW) is error
