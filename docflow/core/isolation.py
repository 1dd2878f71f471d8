"""Run one call in a forked child process under a wall-clock and a memory cap.

One pathological document (a zip bomb, a 20 MB line, a parser stuck in a loop) must cost only
that document, never the Dask worker that also holds the model and the rest of the batch. So
the call runs in a child: the parent waits at most `timeout_s` and then kills it, and the child
can claim at most `memory_mb` of new address space before its allocations fail.

- `os.fork`, not multiprocessing: Dask worker processes are daemonic, and daemonic processes
  may not have multiprocessing children. A fork also starts in tens of milliseconds because
  the child shares everything the parent already imported and loaded (copy-on-write), where a
  spawned interpreter would re-import unstructured and spaCy for seconds per document
  (benchmarks/fork_overhead.py measures the cost).
- The memory cap is RLIMIT_AS set to the child's address space at fork time plus `memory_mb`:
  a worker already maps gigabytes (torch, the model, thread stacks), so an absolute cap would
  leave the child no room at all. Address space, not RSS, because the kernel enforces it at
  allocation time (Python raises MemoryError) instead of a poller noticing too late. Native
  parsers report a refused allocation in their own words (lxml: "XMLSyntaxError: unknown
  error"), so a failure after the child's peak reached NEAR_CAP of its budget counts as
  exceeding the cap too (the kernel resets the peak at fork, so it is the call's own).
- Only the forking thread exists in the child. The call must not need locks other threads of
  the parent may hold (torch's thread pool, a Prefect log queue); parsing does not, and
  tests/core/test_isolation.py checks that with the model loaded. The child never runs atexit
  handlers or flushes the parent's buffers (`os._exit`), and it restores default SIGINT/SIGTERM
  handling and detaches from the parent's signal wakeup fd, so a signal to the child can
  neither run the worker's handlers nor wake the worker's event loop.
- Calls from several threads are safe: a pipe's write end exists in the parent only under
  _FORK_LOCK, so no other call's child inherits it and holds back this call's end-of-file
  (a worker of an existing Dask cluster may run several tasks at once).

Linux only (RLIMIT_AS and the fork start are what Dask workers here use)."""

from __future__ import annotations

import errno
import os
import pickle
import resource
import select
import signal
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar, cast

T = TypeVar("T")

_EXIT_OK = 0
_EXIT_NO_MEMORY = 70  # MemoryError in the call or while sending its result back
_EXIT_BROKEN = 71  # anything else that kept the child from reporting
_READ_BLOCK = 1 << 20
NEAR_CAP = 0.9
_FORK_LOCK = threading.Lock()


@dataclass(frozen=True)
class Limits:
    """Per-call caps; 0 switches a cap off."""

    timeout_s: float = 0.0
    memory_mb: int = 0

    @property
    def enabled(self) -> bool:
        return self.timeout_s > 0 or self.memory_mb > 0


class LimitExceeded(Exception):
    """The call needed more time or memory than its cap."""

    def __init__(self, resource_name: str, limit: float, unit: str) -> None:
        super().__init__(f"exceeded the {resource_name} limit of {limit:g} {unit}")
        self.resource_name = resource_name
        self.limit = limit


class ChildDied(Exception):
    """The child ended without reporting a result: killed by a signal or crashed in native
    code (a segfault in a C parser)."""

    def __init__(self, message: str, signal_number: int | None) -> None:
        super().__init__(message)
        self.signal_number = signal_number


class RemoteError(Exception):
    """Stands in for an exception of the child that cannot cross the pipe (not picklable);
    keeps its type name and message."""


def run_isolated(fn: Callable[[], T], limits: Limits) -> T:
    """`fn()` evaluated in a forked child under `limits`; its return value or its exception
    comes back pickled. Raises LimitExceeded past a cap, MemoryError when the machine (not the
    cap) ran out, ChildDied when the child was killed or crashed."""
    with _FORK_LOCK:
        read_fd, write_fd = os.pipe()
        try:
            with warnings.catch_warnings():
                # A store's at-fork hooks (LanceDB's, Lance's) warn at every fork; the child
                # never touches a store.
                warnings.filterwarnings("ignore", r".*\bfork support", RuntimeWarning)
                warnings.filterwarnings("ignore", r".*\bnot fork-safe", UserWarning)
                pid = os.fork()
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            if exc.errno == errno.ENOMEM:
                raise MemoryError(f"cannot fork an isolated process: {exc.strerror}") from exc
            raise
        if pid == 0:
            os.close(read_fd)
            _child(fn, write_fd, limits.memory_mb)
        os.close(write_fd)
    return cast(T, _parent(pid, read_fd, limits))


def _child(fn: Callable[[], object], write_fd: int, memory_mb: int) -> NoReturn:
    global _FORK_LOCK
    _FORK_LOCK = threading.Lock()  # inherited held; fn may isolate a call of its own
    code = _EXIT_BROKEN
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        mapped = _vm_kb("VmSize") * 1024
        if memory_mb > 0:
            cap = mapped + memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        data = _outcome(fn, mapped)
        with open(write_fd, "wb") as pipe:
            pipe.write(data)
        code = _EXIT_OK
    except MemoryError:
        code = _EXIT_NO_MEMORY
    finally:
        os._exit(code)


def _vm_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(f"{field}:"))


def _outcome(fn: Callable[[], object], mapped: int) -> bytes:
    """(True, value, 0) or (False, exception, MB of address space the call added at its peak),
    pickled. An exception that would not survive the trip (pickling or unpickling fails)
    travels as a RemoteError with its type and message."""
    try:
        return pickle.dumps((True, fn(), 0), protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        raise
    except BaseException as exc:  # noqa: BLE001 - every outcome of fn goes back to the parent
        error: BaseException = exc
    used_mb = (_vm_kb("VmPeak") * 1024 - mapped) / (1024 * 1024)
    try:
        data = pickle.dumps((False, error, used_mb), protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)
        return data
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - unpicklable exception types are replaced below
        surrogate = RemoteError(f"{type(error).__name__}: {error}")
        return pickle.dumps((False, surrogate, used_mb), protocol=pickle.HIGHEST_PROTOCOL)


def _parent(pid: int, read_fd: int, limits: Limits) -> object:
    deadline = time.monotonic() + limits.timeout_s if limits.timeout_s > 0 else None
    try:
        data = _read_until_eof(read_fd, deadline)
    except BaseException:  # interrupted while waiting (Ctrl-C, cancellation): no orphan
        _kill(pid)
        raise
    finally:
        os.close(read_fd)
    if data is None:
        _kill(pid)
        raise LimitExceeded("time", limits.timeout_s, "s")
    try:
        ok, value, used_mb = pickle.loads(data)
    except Exception as exc:  # noqa: BLE001 - no complete result: the exit status says why
        _, status = os.waitpid(pid, 0)
        raise _death(status, limits) from exc
    _reap_in_background(pid)
    if ok:
        return value
    if limits.memory_mb > 0 and used_mb >= NEAR_CAP * limits.memory_mb:
        raise LimitExceeded("memory", limits.memory_mb, "MB") from value
    raise value


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _reap_in_background(pid: int) -> None:
    """The child has sent everything and is only exiting; tearing down a worker-sized address
    space takes as long as the fork did (tens of ms), so it is waited for off the parse's path."""
    threading.Thread(target=os.waitpid, args=(pid, 0), name=f"reap-{pid}", daemon=True).start()


def _read_until_eof(fd: int, deadline: float | None) -> bytes | None:
    """Everything the child writes, or None when the deadline passes first. The pipe is
    drained while the child runs: a result larger than the pipe buffer would otherwise block
    the child forever."""
    poller = select.poll()  # not select(): worker processes may have fds above FD_SETSIZE
    poller.register(fd, select.POLLIN)
    chunks: list[bytes] = []
    while True:
        if deadline is None:
            timeout_ms = None
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            timeout_ms = max(1, int(remaining * 1000))
        if not poller.poll(timeout_ms):
            continue
        block = os.read(fd, _READ_BLOCK)
        if not block:
            return b"".join(chunks)
        chunks.append(block)


def _death(status: int, limits: Limits) -> Exception:
    """Why a child ended without a complete result."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        return ChildDied(f"killed by {signal.Signals(number).name}", number)
    code = os.WEXITSTATUS(status)
    if code == _EXIT_NO_MEMORY:
        if limits.memory_mb > 0:
            return LimitExceeded("memory", limits.memory_mb, "MB")
        return MemoryError("the isolated process ran out of memory")
    if code == _EXIT_OK:
        return RemoteError("the child's result could not be unpickled")
    return ChildDied(f"exited with status {code} without a result", None)
