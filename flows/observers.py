"""Who in this process watches a run: the terminal's progress bar, and a caller that wants the
final summary even when Prefect cannot deliver the final state (the API went away).

A flow's parameters travel to the Prefect API and into the deployments' schemas, so a callback
cannot be one. The caller (docflow.service) names its observers for one call with
`observing(...)`; the flow reads them at its start. Nothing is registered globally, so two
calls in one process never hear each other."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from flows.progress import ProgressEvent


@dataclass(frozen=True)
class Observers:
    progress: Callable[[ProgressEvent], None] | None = None
    summary: Callable[[dict], None] | None = None


_THIS_CALL: ContextVar[Observers] = ContextVar("docflow_observers", default=Observers())


@contextmanager
def observing(observers: Observers) -> Iterator[None]:
    token = _THIS_CALL.set(observers)
    try:
        yield
    finally:
        _THIS_CALL.reset(token)


def current() -> Observers:
    return _THIS_CALL.get()
