"""Remote sources over HTTP from a loopback server that injects 5xx replies, connection resets,
stalls and permanent 404s: retries follow the `transient` policy (attempts and backoff are
checked), permanent 404s are `missing`, and the good documents are unaffected."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from docflow.core.models import DocStatus, ErrorClass
from docflow.core.settings import DocflowSettings
from flows.pipeline import batch_context, build_pipeline, open_target
from docflow.adapters.stores import open_store
from docflow.core.discover import discover
from docflow.adapters.sources import Sources
from docflow.core.process import process_batch
from docflow.core.retry import RetryPolicies
from tests.stores import to

# Per path, what each successive GET gets; the last entry repeats. Discovery makes the first
# request, so faults from the second request on hit the worker's fetch.
PLANS = {
    "/ok.txt": ["ok"],
    "/flaky.txt": ["ok", "503", "503", "ok"],
    "/reset.txt": ["ok", "reset", "reset", "ok"],
    "/stall.txt": ["ok", "stall", "ok"],
    "/down.txt": ["ok", "503"],
    "/deleted.txt": ["ok", "404"],
    "/never.txt": ["404"],
    "/flaky-listing.txt": ["500", "ok"],
}
STALL_S = 3.0


def body(path: str) -> bytes:
    return f"Remote document {path}. It talks about retrieval over HTTP sources.".encode()


class FaultyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.hits: Counter = Counter()
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - the stdlib's name
        """Headers without an ETag, as many plain file servers send them: discovery then has no
        version to compare and downloads the document, so the faults below all hit GETs."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body(self.path))))
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        server: FaultyServer = self.server  # type: ignore[assignment]
        with server.lock:
            server.hits[self.path] += 1
            plan = PLANS.get(self.path, ["404"])
            step = plan[min(server.hits[self.path], len(plan)) - 1]
        if step == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.close()
            return
        if step == "stall":
            threading.Event().wait(STALL_S)
        if step in ("ok", "stall"):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body(self.path))))
            self.end_headers()
            try:
                self.wfile.write(body(self.path))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up on a stalled reply, as it should
            return
        self.send_error(int(step))


@pytest.fixture
def http_source():
    server = FaultyServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_flaky_http_sources_follow_the_policies(http_source, tmp_path):
    server, base = http_source
    settings = DocflowSettings(db=str(tmp_path / "db"), home=tmp_path / "home", remote_timeout_s=1)
    pipeline = build_pipeline(settings)
    target, generation = open_target(settings, pipeline)
    found = discover([f"{base}{path}" for path in PLANS], pipeline.config.fingerprint(), source_for=Sources(settings.remote_timeout_s))

    # Discovery: the listing-time 500 was retried, the permanent 404 is a `missing` problem.
    assert {d.doc_id for d in found.documents} == {p.lstrip("/") for p in PLANS} - {"never.txt"}
    (never,) = found.problems
    assert (never.doc_id, never.error_class) == ("never.txt", ErrorClass.MISSING)
    assert server.hits["/never.txt"] == 1 and server.hits["/flaky-listing.txt"] == 2

    sleeps: list[float] = []
    ctx = batch_context(target, generation, pipeline, settings, RetryPolicies(), "http")
    result = process_batch(list(found.documents), ctx, to(ctx), sleep=sleeps.append)
    outcomes = {o.doc_id: o for o in result.outcomes}

    for doc_id in ("ok.txt", "flaky.txt", "reset.txt", "stall.txt", "flaky-listing.txt"):
        assert outcomes[doc_id].status is DocStatus.DONE, outcomes[doc_id]
    assert outcomes["flaky.txt"].attempts == 3 and server.hits["/flaky.txt"] == 4
    # aiohttp reconnects once by itself after a dropped keep-alive connection; the second
    # reset reaches docflow, whose transient policy retries it.
    assert outcomes["reset.txt"].attempts == 2 and server.hits["/reset.txt"] == 4
    assert outcomes["stall.txt"].attempts == 2 and server.hits["/stall.txt"] == 3

    down = outcomes["down.txt"]
    assert (down.status, down.error_class, down.attempts) == (DocStatus.FAILED, ErrorClass.TRANSIENT, 4)
    assert server.hits["/down.txt"] == 1 + 4
    gone = outcomes["deleted.txt"]
    assert (gone.error_class, gone.attempts) == (ErrorClass.MISSING, 1)

    # Backoff: the transient policy's exponential delays (0.5 s doubling, up to 25 % jitter)
    # for the three retries of down.txt, among everything the batch slept.
    policy = RetryPolicies().transient
    for attempt in (1, 2, 3):
        base_delay = policy.delay_s * 2 ** (attempt - 1)
        assert any(base_delay <= s <= base_delay * 1.25 for s in sleeps)
    assert {r["doc_id"] for r in open_store(target).read_columns(["doc_id"])} == {
        "ok.txt", "flaky.txt", "reset.txt", "stall.txt", "flaky-listing.txt"}
