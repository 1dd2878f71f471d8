"""Cooperative Ctrl-C / SIGTERM for a running flow.

An exception raised at an arbitrary point (inside Prefect's or Dask's submission code) can end
a flow run Crashed instead of Cancelled. So while batches run, SIGINT and SIGTERM only set a
flag that the batch loop checks between waits: it stops submitting, cancels what is in flight
and the run ends Cancelled with its report. A second signal interrupts at once."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Interrupted(Exception):
    """The user (or a supervisor) asked the run to stop."""


@contextmanager
def cooperative_interrupts() -> Iterator[threading.Event]:
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return

    def handler(signum, frame) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
