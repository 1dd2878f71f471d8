"""Real processes and the REST API, for the deployment tests.

The tests talk to the Prefect server over plain HTTP, the way the UI and other systems do, and
start workers and `serve` as separate processes (in their own process group, so stopping one
also stops the flow runs it spawned)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


class Rest:
    def __init__(self, api_url: str) -> None:
        self.api_url = api_url.rstrip("/")

    def get(self, path: str) -> dict:
        reply = httpx.get(f"{self.api_url}{path}", timeout=30)
        reply.raise_for_status()
        return reply.json()

    def post(self, path: str, body: dict) -> httpx.Response:
        return httpx.post(f"{self.api_url}{path}", json=body, timeout=30)

    def deployment(self, full_name: str) -> dict | None:
        reply = httpx.get(f"{self.api_url}/deployments/name/{full_name}", timeout=30)
        if reply.status_code == 404:
            return None
        reply.raise_for_status()
        return reply.json()

    def create_flow_run(self, deployment_id: str, parameters: dict) -> dict:
        reply = self.post(f"/deployments/{deployment_id}/create_flow_run", {"parameters": parameters})
        assert reply.status_code == 201, reply.text
        return reply.json()

    def wait(self, flow_run_id: str, run_count: int = 1, timeout_s: float = 240, log: Path | None = None) -> dict:
        """The flow run once it is in a terminal state after `run_count` attempts."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.get(f"/flow_runs/{flow_run_id}")
            if run["state_type"] in TERMINAL and run["run_count"] >= run_count:
                return run
            time.sleep(0.5)
        tail = log.read_text()[-4000:] if log and log.exists() else ""
        raise AssertionError(f"flow run {flow_run_id} not finished in {timeout_s}s: {run['state_name']}\n{tail}")


@contextmanager
def running(command: list[str], env: dict, log: Path, cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, start_new_session=True,
        )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C first (a worker or `serve` shuts down cleanly), then SIGKILL for the group."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


class Webhook:
    """A real HTTP endpoint on loopback that records every POST body it receives."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body) if body else {})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, predicate, timeout_s: float = 120) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for body in self.received:
                if predicate(body):
                    return body
            time.sleep(0.5)
        raise AssertionError(f"no matching notification in {timeout_s}s; received: {self.received}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
