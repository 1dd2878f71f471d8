import errno

import pytest

from docflow.core.models import ErrorClass
from docflow.core.errors import DocflowSystemError, ParseError, TransientError, classify


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


def test_system_error_is_its_own_class():
    assert DocflowSystemError("disk full").error_class is ErrorClass.SYSTEM
