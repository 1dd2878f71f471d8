"""The Prefect task shell around `docflow.core.process.process_batch`: its task options live
here, the work does not. No Prefect retries: a batch that fails as a whole is resubmitted by
the flow's scheduler per the error table (docflow.core.errors says why)."""

from __future__ import annotations

from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE

from docflow.adapters.stores import destination
from blocks import worker_credentials
from docflow.core.errors import DocflowError, classify
from docflow.core.models import BatchResult, DocRef, Stage
from docflow.core.process import BatchContext, process_batch


@task(name="process-batch", cache_policy=NO_CACHE, persist_result=False)
def process_batch_task(docs: Sequence[DocRef], ctx: BatchContext, resumed: bool = False) -> BatchResult:
    try:
        # The worker's own storage options, never submitted with the batch.
        target = worker_credentials.on_worker(ctx.target, ctx.run_id)
        return process_batch(docs, ctx, destination(target, ctx.generation), resumed=resumed)
    except DocflowError:
        raise
    except Exception as exc:  # noqa: BLE001 - every exception leaving a task is classified
        raise classify(exc, Stage.BATCH) from exc
