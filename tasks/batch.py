"""The Prefect task shell around `docflow.core.process.process_batch`: Prefect's retry
condition and task options live here, the work does not."""

from __future__ import annotations

from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from docflow.adapters.stores import destination
from docflow.core import credentials
from docflow.core.errors import DocflowError, classify
from docflow.core.models import BatchResult, DocRef, ErrorClass
from docflow.core.process import BatchContext, process_batch


def _retry_batch_on(task, task_run, state) -> bool:
    """Prefect's retries are the outer net for a whole batch: only transient and resource
    failures (lock timeouts, a commit storm) are worth a second run of the batch."""
    try:
        state.result()
    except DocflowError as error:
        return error.error_class in (ErrorClass.TRANSIENT, ErrorClass.RESOURCE)
    except Exception:  # noqa: BLE001 - anything unclassified is not retried blindly
        return False
    return False


@task(
    name="process-batch",
    retries=2,
    # One number, not a list of delays: Prefect's V1 UI shows a list as "Retry Delay: NaNs".
    retry_delay_seconds=5,
    retry_condition_fn=_retry_batch_on,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def process_batch_task(docs: Sequence[DocRef], ctx: BatchContext, resumed: bool = False) -> BatchResult:
    context = TaskRunContext.get()
    rerun = context is not None and context.task_run.run_count > 1
    try:
        # The worker's own storage options, never submitted with the batch.
        target = credentials.on_worker(ctx.target, ctx.run_id)
        return process_batch(docs, ctx, destination(target, ctx.generation), resumed=resumed or rerun)
    except DocflowError:
        raise
    except Exception as exc:  # noqa: BLE001 - every exception leaving a task is classified
        raise classify(exc, "batch") from exc
