"""Turn a flow run's block names into plain values.

A flow takes plain values and block names side by side (the UI form offers both); a plain value
that is given wins over the same setting in a block, so one run can reuse a saved target with
another table. Blocks are loaded in the flow run, not when the deployment is created, so editing
a block in the UI changes the next run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field

from blocks.config import DaskCluster, DocumentSource, Embedder, StoreTarget, RetryPoliciesBlock
from docflow.adapters.stores import with_store_defaults
from docflow.core.settings import DocflowSettings
from docflow.core.locations import is_remote, local_path
from docflow.core.confine import NotAllowed, check
from docflow.core.retry import RetryPolicies
from docflow.core.models import Stage

# Prefect's rule for block document names, checked when the run is created.
BlockName = Annotated[str, Field(pattern=r"^[a-z0-9-]+$", max_length=128)]


@dataclass(frozen=True)
class FlowInputs:
    """What the run uses: the caller's plain values, completed from the named blocks."""

    paths: list[str]
    db: str | None
    table: str | None
    include: list[str] | None
    exclude: list[str] | None
    model: str | None
    retry_policies: RetryPolicies
    device: str | None = None
    embed_batch_size: int | None = None
    embed_backend: str | None = None
    address: str | None = None
    storage_options: dict[str, str] | None = field(default=None, repr=False)  # secrets
    storage_block: str | None = None  # the target block holding them, for the workers
    store: str | None = None

    def settings(self, batch_size: int | None = None) -> DocflowSettings:
        """The run's settings: these values over DOCFLOW_* variables over defaults. The
        embedder's device and batch size and the target's storage options have no flow
        parameter of their own; they come from blocks only."""
        overrides = {
            "store": self.store,
            "db": self.db,
            "table": self.table,
            "batch_size": batch_size,
            "include": tuple(self.include) if self.include else None,
            "exclude": tuple(self.exclude) if self.exclude else None,
            "model": self.model,
            "device": self.device,
            "embed_batch_size": self.embed_batch_size,
            "embed_backend": self.embed_backend,
            "address": self.address,
            "storage_options": self.storage_options,
            "storage_block": self.storage_block if self.storage_options else None,
        }
        chosen = DocflowSettings(**{k: v for k, v in overrides.items() if v is not None})
        return absolute_locations(with_store_defaults(chosen))


def absolute_locations(settings: DocflowSettings) -> DocflowSettings:
    """A relative database or checkpoint path means the flow's working directory; Dask workers
    have their own, so the path is made absolute before it travels to them."""
    local = {
        name: os.path.abspath(os.path.expanduser(local_path(value)))
        for name in ("db", "checkpoint_dir")
        if (value := getattr(settings, name)) and not is_remote(value)
    }
    return settings.model_copy(update=local)


def run_locations(paths: Sequence[str], settings: DocflowSettings) -> list[tuple[str, str]]:
    """Every place a run reads from or writes to, named for the refusal message."""
    places = [("document source", p) for p in paths] + [("database", settings.db)]
    if settings.checkpoint_dir:
        places.append(("checkpoint directory", settings.checkpoint_dir))
    if settings.model:
        places.append(("embedding model", settings.model))
    return places


def confine(places: Sequence[tuple[str, str]], settings: DocflowSettings) -> None:
    """The fence of docflow.core.confine, applied before a run touches anything. A run created
    through the Prefect API (it has a deployment) comes from whoever can reach that API, so
    without configured roots it is refused; a run from the CLI is the user's own and may use
    anything the user can read unless roots are configured."""
    if settings.allowed_roots:
        check(places, settings.allowed_roots)
    elif _deployment_id() is not None:
        raise NotAllowed(
            "runs started through the Prefect API need allowed roots: set DOCFLOW_ALLOWED_ROOTS "
            "(directories and s3:// prefixes separated by ':') in the environment of the worker "
            "or `serve` process",
            stage=Stage.CONFIG,
        )


def _deployment_id():
    from prefect.context import FlowRunContext

    return getattr(getattr(FlowRunContext.get(), "flow_run", None), "deployment_id", None)


def resolve(
    *,
    paths: list[str] | None,
    db: str | None,
    table: str | None,
    include: list[str] | None,
    exclude: list[str] | None,
    model: str | None,
    retry_policies: RetryPolicies | str | None,
    source: str | None,
    target: str | None,
    embedder: str | None,
    embed_backend: str | None = None,
    store: str | None = None,
    address: str | None = None,
    cluster: str | None = None,
) -> FlowInputs:
    src = DocumentSource.load(source) if source else None
    tgt = StoreTarget.load(target) if target else None
    emb = Embedder.load(embedder) if embedder else None
    chosen_paths = paths or (src.roots if src else None)
    if not chosen_paths:
        raise ValueError("no documents to ingest: pass paths or the name of a document source block")
    if isinstance(retry_policies, str):
        policies = RetryPoliciesBlock.load(retry_policies).policies
    else:
        policies = retry_policies or RetryPolicies()
    return FlowInputs(
        paths=list(chosen_paths),
        db=db or _field(tgt, "uri"),
        table=table or _field(tgt, "table"),
        include=include or _field(src, "include"),
        exclude=exclude or _field(src, "exclude"),
        model=model or _field(emb, "model"),
        retry_policies=policies,
        device=_field(emb, "device"),
        embed_batch_size=_field(emb, "batch_size"),
        embed_backend=embed_backend or _field(emb, "backend"),
        address=address or _field(DaskCluster.load(cluster) if cluster else None, "address"),
        storage_options=_storage_options(tgt),
        storage_block=target,
        store=store or _field(tgt, "store") or None,
    )


def _storage_options(target: StoreTarget | None) -> dict[str, str] | None:
    """The target block's options in clear text, for LanceDB and s3fs; None keeps settings'."""
    if target is None:
        return None
    options = target.storage_options.get_secret_value()
    return {str(k): str(v) for k, v in options.items()} or None


def _field(block: object | None, name: str):
    return getattr(block, name) if block is not None else None
