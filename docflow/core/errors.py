"""The error taxonomy: every exception that leaves a stage is one of these classes, and one
table (ERROR_TABLE) says what each class means for the run.

`classify` maps arbitrary library exceptions to a class, using the stage they came from,
because the same exception means different things in different places: a PermissionError
reading a source file is that document's problem, the same error writing the table stops the
run. Everything that acts on a class reads ERROR_TABLE: the checkpoints (`final`), the flow's
resubmission of a failed batch (`resubmitted`), the scheduler and the per-stage policy
(`stops_run`, also the default of the system policy), and the report's advice.

Two retry layers, each with its own job:
1. In the task, per document and stage (`docflow.core.retry.call_with_policy`): a flaky read,
   a commit conflict, a parse that may succeed a second time; the class's policy sets how often.
2. In the flow, per batch (`flows.scheduler.BatchScheduler`): a batch that raised as a whole
   (a killed worker, a lock timeout outside any document) is resubmitted, as resumed, while
   the class's policy has retries left. Only this layer survives a dead worker process, which
   is why Prefect's own task retries, a third layer that multiplied the attempts of the other
   two, are not used."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import ClassVar

from docflow.core.models import ErrorClass, Stage


class DocflowError(Exception):
    error_class: ClassVar[ErrorClass]

    def __init__(self, message: str, *, stage: Stage | str = "") -> None:
        super().__init__(message)
        self.stage = stage

    @property
    def message(self) -> str:
        return str(self)


class TransientError(DocflowError):
    error_class = ErrorClass.TRANSIENT


class MissingError(DocflowError):
    error_class = ErrorClass.MISSING


class ResourceError(DocflowError):
    error_class = ErrorClass.RESOURCE


class ParseError(DocflowError):
    error_class = ErrorClass.PARSE


class DocflowSystemError(DocflowError):
    """Stops the run: retrying other documents would fail the same way (disk full, table
    unwritable, bad configuration). Checkpoints of finished documents are kept."""

    error_class = ErrorClass.SYSTEM


class StoreFault(DocflowSystemError):
    """A table's storage is damaged (an unreadable manifest): the message says which version
    and how to get the previous one back."""


class SourceError(DocflowSystemError):
    """The sources named cannot be listed (a missing root, colliding ids): a usage error that
    stops the run before anything is written."""

    def __init__(self, message: str, *, stage: Stage | str = Stage.DISCOVER) -> None:
        super().__init__(message, stage=stage)


@dataclass(frozen=True)
class ClassRules:
    final: bool  # a failed document is checkpointed: reruns skip it until it changes
    resubmitted: bool  # a batch that raised it is resubmitted while the policy has retries
    stops_run: bool  # the run stops submitting, lets the batches in flight finish, ends failed
    advice: str  # the report's next step for documents that failed with it


# A retry may fix it: the document stays open for the next run, a failed batch is resubmitted.
_REOPENED = ClassRules(final=False, resubmitted=True, stops_run=False,
                       advice="are tried again by the next run over these documents")
# A retry cannot fix it until the file changes: checkpointed as failed.
_FINAL = ClassRules(final=True, resubmitted=False, stops_run=False, advice="stay skipped until the file changes")

ERROR_TABLE: dict[ErrorClass, ClassRules] = {
    ErrorClass.TRANSIENT: _REOPENED,
    ErrorClass.RESOURCE: _REOPENED,
    ErrorClass.PARSE: _FINAL,
    ErrorClass.MISSING: _FINAL,
    ErrorClass.SYSTEM: ClassRules(final=False, resubmitted=False, stops_run=True,
                                  advice="stop the run: fix the cause, then rerun"),
}


def rules_for(error_class: ErrorClass | str) -> ClassRules:
    return ERROR_TABLE[ErrorClass(error_class)]


BY_CLASS: dict[ErrorClass, type[DocflowError]] = {
    cls.error_class: cls
    for cls in (TransientError, MissingError, ResourceError, ParseError, DocflowSystemError)
}

_TRANSIENT_ERRNOS = {
    errno.EAGAIN,
    errno.ETIMEDOUT,
    errno.ECONNRESET,
    errno.ECONNREFUSED,
    errno.ECONNABORTED,
    errno.EPIPE,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.EINTR,
    errno.EBUSY,
}
_SYSTEM_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EMFILE, errno.ENFILE}
# LanceDB reports optimistic-concurrency losses as plain RuntimeError/OSError text.
_CONFLICT_MARKERS = ("commit conflict", "retryable commit", "conflicting transaction")
_TIMEOUT_MARKERS = ("timed out", "timeout", "connection reset", "temporarily unavailable")
# An object store or server that cannot be reached (LanceDB's and s3fs's wording): the same
# request may succeed later, and nothing is wrong with any document.
_UNREACHABLE_MARKERS = ("failed to connect", "connect error", "connection refused", "connectionrefused",
                        "dns error", "name or service not known", "could not connect")
# LanceDB reports storage faults (an unreadable manifest, a missing data file) as "lance error".
_STORE_MARKERS = ("lance error", "lanceerror")
# distributed's words when a worker cannot unpickle a task (its environment differs from the
# flow's): every batch would fail the same way, so it is the run's problem, not a document's.
_ENVIRONMENT_MARKERS = ("error during deserialization of the task graph",)

WRITE_STAGES = frozenset({Stage.WRITE, Stage.LEDGER, Stage.CHECKPOINT})
# Failures of the run itself (opening the tables, the cluster, the settings): never one
# document's problem.
FLOW_STAGES = frozenset({Stage.FLOW, Stage.CONFIG})


def classify(exc: BaseException, stage: Stage | str) -> DocflowError:
    """Return `exc` as a DocflowError of the right class, keeping the original as __cause__."""
    if isinstance(exc, DocflowError):
        if not exc.stage:
            exc.stage = stage
        return exc
    cls = _class_for(exc, stage)
    error = BY_CLASS[cls](_describe(exc), stage=stage)
    error.__cause__ = exc
    return error


def _text(exc: BaseException) -> str:
    """Some exceptions' __str__ itself fails (distributed's KilledWorker with odd arguments)."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001
        return repr(exc)


def _class_for(exc: BaseException, stage: Stage | str) -> ErrorClass:
    text = _text(exc).lower()
    if isinstance(exc, MemoryError):
        return ErrorClass.RESOURCE
    if type(exc).__name__ == "KilledWorker":
        return ErrorClass.RESOURCE
    if isinstance(exc, OSError) and exc.errno in _SYSTEM_ERRNOS:
        return ErrorClass.SYSTEM
    if any(marker in text for marker in _CONFLICT_MARKERS):
        return ErrorClass.TRANSIENT
    http = _http_class(exc)
    if http is not None:
        return http
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return ErrorClass.TRANSIENT
    if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS:
        return ErrorClass.TRANSIENT
    if any(marker in text for marker in _UNREACHABLE_MARKERS):
        return ErrorClass.TRANSIENT
    if any(marker in text for marker in _STORE_MARKERS + _ENVIRONMENT_MARKERS) or stage in FLOW_STAGES:
        return ErrorClass.SYSTEM
    if stage in WRITE_STAGES:
        if any(marker in text for marker in _TIMEOUT_MARKERS):
            return ErrorClass.TRANSIENT
        return ErrorClass.SYSTEM
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return ErrorClass.MISSING
    if isinstance(exc, (PermissionError, IsADirectoryError)):
        return ErrorClass.MISSING
    if stage == Stage.EMBED:
        return ErrorClass.SYSTEM
    return ErrorClass.PARSE


def is_store_fault(exc: BaseException) -> bool:
    return any(marker in _text(exc).lower() for marker in _STORE_MARKERS)


def _http_class(exc: BaseException) -> ErrorClass | None:
    """Remote sources (fsspec over aiohttp): 5xx and 429 are worth retrying, 404/410 mean the
    document is gone, 401/403 that it cannot be read; dropped connections are transient."""
    if type(exc).__module__.split(".")[0] != "aiohttp":
        return None
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        if status == 429 or status >= 500:
            return ErrorClass.TRANSIENT
        if status in (401, 403, 404, 410):
            return ErrorClass.MISSING
        return ErrorClass.PARSE
    return ErrorClass.TRANSIENT


def _describe(exc: BaseException) -> str:
    text = _text(exc).strip() or repr(exc)
    first_line = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first_line}"[:500]
