"""Vector stores and the run state kept beside them, chosen by name.

A store adapter is one object, a `StoreAdapter`, registered under the entry point group
`docflow.stores` (docflow's own in its pyproject.toml), so a third-party package adds a store
by declaring

    [project.entry-points."docflow.stores"]
    qdrant = "docflow_qdrant:ADAPTER"

and settings, blocks and the CLI (`--store qdrant`) pick it by that name. Everything above the
adapters holds only the ports (docflow.ports.store, docflow.ports.state)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import distribution, entry_points

from docflow.adapters.checkpoints.checkpoint import PrefectCheckpoints, default_checkpoint_dir
from docflow.core.errors import DocflowSystemError
from docflow.core.models import Destination, Target
from docflow.core.settings import DocflowSettings
from docflow.ports.state import State
from docflow.ports.store import VectorStore

GROUP = "docflow.stores"
DEFAULT_GROUP = "docflow.default_store"


@dataclass(frozen=True)
class StoreAdapter:
    """`vector_store` and `state` build from a Target without touching storage: opening is
    lazy, so a worker or the CLI can build them and ask `info()` cheaply."""

    name: str
    vector_store: Callable[[Target], VectorStore]
    state: Callable[[Target], State]
    default_db: str  # where a run writes when no database is named
    # What opening a store imports (its client library, seconds of imports): loaded early by
    # a command that is waiting for something else anyway, such as a Prefect server starting.
    client_modules: tuple[str, ...] = ()


class UnknownStore(DocflowSystemError):
    """A configuration error: no adapter is registered under the name."""


@functools.cache
def _registered() -> dict[str, str]:
    return {point.name: point.value for point in entry_points(group=GROUP)}


@functools.cache
def default_name() -> str:
    """The store docflow's pyproject.toml declares the default (entry point group
    docflow.default_store), found by its registration without importing any store."""
    own = distribution("docflow").entry_points
    (default,) = [p.value for p in own if p.group == DEFAULT_GROUP]
    return next(p.name for p in own if p.group == GROUP and p.value == default)


def names() -> list[str]:
    return sorted(_registered())


def resolve_name(name: str | None) -> str:
    """The registered name a setting means ("" and None: the default store)."""
    chosen = name or default_name()
    if chosen not in _registered():
        raise UnknownStore(
            f"unknown store {chosen!r}: the installed stores are {', '.join(names()) or 'none'} "
            f"(a package adds one under the entry point group {GROUP!r})",
            stage="config",
        )
    return chosen


@functools.cache
def adapter(name: str | None) -> StoreAdapter:
    chosen = resolve_name(name)
    (point,) = [p for p in entry_points(group=GROUP) if p.name == chosen]
    loaded = point.load()
    if not isinstance(loaded, StoreAdapter) or loaded.name != chosen:
        raise UnknownStore(f"entry point {point.value} is not the StoreAdapter {chosen!r}", stage="config")
    return loaded


def open_store(target: Target) -> VectorStore:
    return adapter(target.store).vector_store(target)


def open_state(target: Target) -> State:
    return adapter(target.store).state(target)


def with_store_defaults(settings: DocflowSettings) -> DocflowSettings:
    """The settings with the store named and its default database filled in, done once where
    settings are built; an unknown store name fails here, before any work."""
    chosen = resolve_name(settings.store)
    return settings.model_copy(update={"store": chosen, "db": settings.db or adapter(chosen).default_db})


def target_of(settings: DocflowSettings) -> Target:
    """Where the settings say a run writes."""
    settings = with_store_defaults(settings)
    return Target(
        db=settings.db,
        table=settings.table,
        checkpoint_dir=settings.checkpoint_dir or default_checkpoint_dir(settings.db, settings.table),
        storage_options=tuple(sorted(settings.storage_options.items())),
        store=settings.store,
    )


def destination(target: Target, generation: str) -> Destination:
    """Everything a batch writes to, for the pipeline core, which holds no adapter itself."""
    return Destination(open_store(target), open_state(target), PrefectCheckpoints.of(target, generation))
