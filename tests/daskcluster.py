"""A real Dask cluster from the `dask scheduler` / `dask worker` commands, for tests: each
process in its own working directory and process group, all stopped on exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

DASK = str(Path(sys.executable).parent / "dask")


@contextmanager
def dask_cluster(
    home: Path,
    worker_names: Sequence[str] = ("w1", "w2"),
    env: dict | None = None,
    wrap_worker: Callable[[list[str]], list[str]] = lambda command: command,
) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """Yields (scheduler address, worker processes). `wrap_worker` can run a worker inside
    another command (a private mount namespace, say)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED": "warning", **(env or {})}
    home.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen] = []

    def start(command: list[str], name: str) -> subprocess.Popen:
        cwd = home / name
        cwd.mkdir(exist_ok=True)
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                   stderr=open(cwd / "log.txt", "wb"), start_new_session=True)
        processes.append(process)
        return process

    try:
        scheduler_file = home / "scheduler.json"
        start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
               "--scheduler-file", str(scheduler_file)], "scheduler")
        deadline = time.monotonic() + 60
        while not (scheduler_file.exists() and scheduler_file.read_text().strip()):
            if time.monotonic() > deadline:
                raise RuntimeError("dask scheduler did not start")
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        workers = [
            start(wrap_worker([DASK, "worker", address, "--nthreads", "1", "--name", name, "--no-dashboard",
                               "--local-directory", str(home / name / "scratch")]), name)
            for name in worker_names
        ]
        from distributed import Client

        with Client(address) as client:
            client.wait_for_workers(len(workers), timeout=60)
        yield address, workers
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)
