"""docflow.core.isolation and parse.limited: results and exceptions cross the fork, caps hold, a
killed child is reaped, and forking a process that has torch and the model loaded (what a Dask
worker is after its first batch) does not deadlock the parse."""

import os
import signal
import threading
import time
import warnings

import pytest

from docflow.adapters.embedders import embed_texts
from docflow.adapters.embedders.sentence_transformers import load_model, resolve_model
from docflow.core.errors import ParseError, ResourceError, classify
from docflow.core.isolation import ChildDied, LimitExceeded, Limits, RemoteError, run_isolated
from docflow.adapters.parsers.parse import IN_PROCESS_MAX_BYTES, _SAMPLES, limited, parse_document
from tests import docbuilders as b

GENEROUS = Limits(timeout_s=60, memory_mb=1024)


def test_the_value_and_the_exception_come_back_from_the_child():
    assert run_isolated(lambda: ("pid", os.getpid()), GENEROUS)[1] != os.getpid()
    big = run_isolated(lambda: b"x" * (8 << 20), GENEROUS)  # far above the pipe buffer
    assert len(big) == 8 << 20
    with pytest.raises(FileNotFoundError) as raised:
        run_isolated(lambda: open("/nonexistent/docflow"), GENEROUS)
    assert classify(raised.value, "parse").error_class.value == "missing"
    nested = run_isolated(lambda: run_isolated(lambda: "inner", GENEROUS), Limits(timeout_s=10))
    assert nested == "inner"  # the child does not inherit the fork lock held


def test_the_stores_at_fork_warnings_stay_out_of_an_isolated_call():
    import lance  # noqa: F401 - each registers an at-fork hook that warns
    import lancedb  # noqa: F401

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run_isolated(lambda: "parsed", GENEROUS) == "parsed"
    assert [str(w.message) for w in caught if "fork" in str(w.message)] == []


class Unpicklable(Exception):
    """Cannot cross a pipe however exceptions are pickled: a lock in its state (tblib's
    reducers, which some libraries install process-wide, would rebuild the two-argument
    constructor without calling it)."""

    def __init__(self, a, b):
        super().__init__(f"{a}/{b}")
        self.handle = threading.Lock()


def test_an_exception_that_cannot_be_pickled_arrives_as_its_type_and_message():
    def fail():
        raise Unpicklable("left", "right")

    with pytest.raises(RemoteError, match="Unpicklable: left/right"):
        run_isolated(fail, GENEROUS)


def test_the_time_limit_kills_and_reaps_the_child(tmp_path):
    pid_file = tmp_path / "pid"

    def hang():
        pid_file.write_text(str(os.getpid()))
        time.sleep(60)

    started = time.monotonic()
    with pytest.raises(LimitExceeded, match="time limit of 0.5 s"):
        run_isolated(hang, Limits(timeout_s=0.5))
    assert time.monotonic() - started < 5
    assert not os.path.exists(f"/proc/{pid_file.read_text()}")  # killed and reaped, no zombie


def test_the_memory_limit_is_new_address_space_on_top_of_the_parent():
    assert run_isolated(lambda: len(bytearray(50 << 20)), Limits(memory_mb=200)) == 50 << 20
    with pytest.raises(LimitExceeded, match="memory limit of 200 MB"):
        run_isolated(lambda: len(bytearray(600 << 20)), Limits(memory_mb=200))


def test_a_native_parser_failing_at_the_cap_in_its_own_words_is_the_cap():
    def like_lxml():
        blocks = []
        try:
            while True:
                blocks.append(bytearray(8 << 20))
        except MemoryError:
            raise ValueError("unknown error") from None  # what lxml says when malloc fails

    with pytest.raises(LimitExceeded, match="memory limit of 200 MB"):
        run_isolated(like_lxml, Limits(memory_mb=200))
    with pytest.raises(ValueError, match="far from the cap"):
        run_isolated(lambda: int("far from the cap"), Limits(memory_mb=200))


def test_a_child_killed_by_a_signal_is_reported_with_the_signal():
    with pytest.raises(ChildDied, match="SIGTERM") as died:
        run_isolated(lambda: os.kill(os.getpid(), signal.SIGTERM), GENEROUS)
    assert died.value.signal_number == signal.SIGTERM


def test_limited_maps_caps_to_parse_and_an_outside_sigkill_to_resource(tmp_path):
    doc = str(b.make_txt(tmp_path / "a.txt"))

    def hog(path, doc_type):
        return [bytearray(600 << 20)]

    def crash(path, doc_type):  # SIGTERM, not SIGSEGV: pytest's faulthandler would dump a trace
        os.kill(os.getpid(), signal.SIGTERM)

    def oom_killed(path, doc_type):
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(ParseError, match="memory limit of 200 MB .DOCFLOW_PARSE_MEMORY_MB"):
        limited(hog, Limits(memory_mb=200))(doc, "pdf")
    with pytest.raises(ParseError, match="time limit of 0.2 s .DOCFLOW_PARSE_TIMEOUT_S"):
        limited(lambda p, t: time.sleep(30), Limits(timeout_s=0.2))(doc, "pdf")
    with pytest.raises(ParseError, match="SIGTERM"):
        limited(crash, GENEROUS)(doc, "pdf")
    with pytest.raises(ResourceError, match="SIGKILL"):
        limited(oom_killed, GENEROUS)(doc, "pdf")
    assert limited(parse_document, Limits()) is parse_document  # 0 and 0: no fork at all


def test_small_plain_text_parses_in_process_and_large_or_binary_formats_fork(tmp_path):
    small = tmp_path / "small.txt"
    small.write_text("short text " * 100)
    large = tmp_path / "large.txt"
    large.write_text("x" * (IN_PROCESS_MAX_BYTES + 1))
    where = limited(lambda path, doc_type: [os.getpid()], GENEROUS)
    assert where(str(small), "txt") == [os.getpid()]
    assert where(str(large), "txt") != [os.getpid()]
    assert where(str(small), "pdf") != [os.getpid()]


def test_isolated_parse_does_not_deadlock_with_torch_and_the_model_loaded(tmp_path):
    model_path = resolve_model(None)
    load_model(model_path)
    embed_texts(["torch's thread pool has run in this process"] * 64, model_path)  # pool busy once
    parse = limited(parse_document, Limits(timeout_s=60, memory_mb=2048))
    for kind in ("txt", "pdf", "docx", "html"):
        path = str(b.BUILDERS[kind](tmp_path / f"doc.{kind}", topic="Fork safety"))
        isolated = [e.text for e in parse(path, kind)]
        assert isolated == [e.text for e in parse_document(path, kind)]
    vectors = embed_texts(["the parent's model still works after the forks"], model_path)
    assert vectors.shape[0] == 1


@pytest.mark.parametrize("doc_type", sorted(_SAMPLES))
def test_every_warm_up_sample_parses(tmp_path, doc_type):
    """A broken sample would only cost speed (every child loading the parser itself), so it
    is checked here rather than noticed in a benchmark."""
    path = tmp_path / f"sample.{doc_type}"
    path.write_bytes(_SAMPLES[doc_type]())
    assert parse_document(str(path), doc_type)
