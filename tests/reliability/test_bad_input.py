"""The bad-input corpus through the real pipeline: discovery, then one process_batch with the
parse caps on, the real model and a real LanceDB table.

Every kind must end as a recorded, classified outcome (tests/reliability/badcorpus.py says
which), the batch must complete, the control documents must come out exactly as they do
alone, and nothing outside the source root may reach a chunk or a ledger row. Run with `-s`
to see the table of kinds and outcomes.

The unreadable file is checked in a forked child that drops to `nobody`: the tests run as
root, and root reads a file whatever its mode."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from docflow.core.models import DocStatus, ErrorClass
from docflow.core.settings import DocflowSettings
from flows.pipeline import batch_context, build_pipeline, open_target
from docflow.adapters.stores import open_state, open_store
from docflow.core.models import LedgerEntry
from docflow.core.chunk import ChunkSettings, chunk_elements
from docflow.core.discover import Discovery, discover
from tests.sources import SOURCES
from docflow.core.errors import classify
from docflow.core.isolation import Limits, run_isolated
from docflow.adapters.parsers.parse import parse_document
from docflow.core.process import process_batch
from docflow.core.retry import RetryPolicies
from tests.docbuilders import make_txt
from tests.reliability import badcorpus
from tests.reliability.badcorpus import FAILED, IGNORED, PARSED, PROBLEM, Kind
from tests.stores import to

# Tighter than the defaults (120 s, 2048 MB) so the bombs fail in seconds, far above what
# any honest document here needs.
PARSE_TIMEOUT_S = 30
PARSE_MEMORY_MB = 512
UNREADABLE = badcorpus.problem(
    "unreadable file (mode 000, checked as nobody)", "locked.txt", ErrorClass.MISSING,
    "permission denied", lambda root, outside: None,  # built by check_unreadable
)


@dataclass(frozen=True)
class Unreadable:
    discovery: Discovery
    parse_class: ErrorClass
    parse_message: str


@dataclass(frozen=True)
class Run:
    kinds: tuple[Kind, ...]
    found: Discovery
    outcomes: dict
    ledger: dict[str, dict]
    chunks: dict[str, list[str]]
    unreadable: Unreadable | None
    chunking: ChunkSettings


NO_NOBODY = "running as root without a user 'nobody' to drop to: mode 000 means nothing to root"


def unprivileged(fn):
    """`fn` as the user nobody, in a forked child (root would ignore the file's mode);
    None when there is no such user to drop to."""
    if os.geteuid() != 0:
        return fn()
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        return None

    def dropped():
        os.setgroups([])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
        return fn()

    return run_isolated(dropped, Limits(timeout_s=60))


def check_unreadable(pipeline_fp: str) -> Unreadable | None:
    """Discovery and a parse of a mode-000 file, seen by a user the mode applies to."""
    shared = Path(tempfile.mkdtemp(prefix="docflow-unreadable-"))
    try:
        shared.chmod(0o755)
        root = shared / "root"
        root.mkdir()
        locked = make_txt(root / UNREADABLE.doc_id)
        make_txt(root / "readable.txt")
        locked.chmod(0)

        def look() -> Unreadable:
            found = discover([str(root)], pipeline_fp, source_for=SOURCES)
            try:
                parse_document(str(locked), "txt")
            except Exception as exc:  # noqa: BLE001 - the classification is what is checked
                error = classify(exc, "parse")
                return Unreadable(found, error.error_class, error.message)
            raise AssertionError("an unreadable file parsed")

        return unprivileged(look)
    finally:
        shutil.rmtree(shared)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    base = tmp_path_factory.mktemp("bad-input")
    root = base / "root"
    kinds = badcorpus.build(root, base / "outside")
    settings = DocflowSettings(
        db=str(base / "db"),
        table="chunks",
        home=base / "home",
        parse_timeout_s=PARSE_TIMEOUT_S,
        parse_memory_mb=PARSE_MEMORY_MB,
        max_text_chars=badcorpus.MAX_TEXT_CHARS,
    )
    pipeline = build_pipeline(settings)
    target, generation = open_target(settings, pipeline)
    found = discover([str(root)], pipeline.config.fingerprint(), source_for=SOURCES)
    for kind in kinds:
        if kind.after_discovery is not None:
            kind.after_discovery(root / kind.doc_id)
    ctx = batch_context(target, generation, pipeline, settings, RetryPolicies(), "bad-input")
    # A Dask worker parses its next batch with the table's model loaded: fork from that.
    ctx.embedder.encode(["warm the model before the corpus is parsed"])
    result = process_batch(list(found.documents), ctx, to(ctx), sleep=lambda s: None)
    unreadable = check_unreadable(pipeline.config.fingerprint())
    # What the ingest flow does with discovery problems: a failed ledger row each.
    problems = [*found.problems, *(unreadable.discovery.problems if unreadable else ())]
    state = open_state(target)
    state.upsert([LedgerEntry.problem(p.doc_id, p.path, p.error_class, p.message) for p in problems], ctx.run_id)

    rows = state.rows().to_pylist()
    chunks: dict[str, list[str]] = {}
    for row in open_store(target).read_columns(["doc_id", "chunk_index", "text"]):
        chunks.setdefault(row["doc_id"], []).append((row["chunk_index"], row["text"]))
    return Run(
        kinds=(*kinds, UNREADABLE) if unreadable else kinds,
        found=found,
        outcomes={o.doc_id: o for o in result.outcomes},
        ledger={row["doc_id"]: row for row in rows},
        chunks={doc_id: [text for _, text in sorted(parts)] for doc_id, parts in chunks.items()},
        unreadable=unreadable,
        chunking=pipeline.chunking,
    )


def recorded(run: Run, kind: Kind) -> tuple[str, str, str]:
    """(outcome, error class, message or evidence) as the ledger and the table have it."""
    row = run.ledger.get(kind.doc_id)
    if row is None:
        return IGNORED, "", "not a document: never read, never recorded"
    if row["status"] == DocStatus.DONE.value:
        texts = run.chunks.get(kind.doc_id, [])
        return PARSED, "", f"{len(texts)} chunk(s): {' '.join(texts)[:60]!r}"
    outcome = PROBLEM if row["stage"] == "discover" else FAILED
    return outcome, row["error_class"] or "", row["error_message"]


@pytest.mark.parametrize("kind", badcorpus.KINDS + (UNREADABLE,), ids=lambda k: k.name)
def test_each_kind_ends_in_its_expected_outcome(run, kind):
    if kind not in run.kinds:
        pytest.skip(NO_NOBODY)
    outcome, error_class, message = recorded(run, kind)
    assert outcome == kind.outcome, message
    if kind.outcome == PARSED:
        assert run.ledger[kind.doc_id]["chunk_count"] == len(run.chunks[kind.doc_id]) > 0
        assert kind.text in " ".join(run.chunks[kind.doc_id])
    elif kind.outcome in (FAILED, PROBLEM):
        assert error_class == kind.error_class.value
        assert kind.text.lower() in message.lower()
        assert kind.doc_id not in run.chunks
    else:
        assert kind.doc_id not in {d.doc_id for d in run.found.documents}
        assert kind.doc_id not in {p.doc_id for p in run.found.problems}


def test_the_batch_completed_with_a_classified_outcome_for_every_document(run):
    assert set(run.outcomes) == {d.doc_id for d in run.found.documents}
    for outcome in run.outcomes.values():
        assert outcome.status is DocStatus.DONE or outcome.error_class in ErrorClass
        assert outcome.status is DocStatus.DONE or outcome.error_message
        # Two attempts at most (the parse policy), each under the cap: nothing hung.
        assert outcome.timings.parse_s < 2 * PARSE_TIMEOUT_S + 10
    for row in run.ledger.values():
        assert row["status"] in ("done", "failed")
        assert (row["status"] == "done") == (row["error_class"] is None)


def test_control_documents_come_out_as_they_do_alone(run):
    controls = [d for d in run.found.documents if d.doc_id.startswith("good/")]
    assert len(controls) == 3
    for doc in controls:
        elements = parse_document(doc.path, doc.doc_type)
        assert run.chunks[doc.doc_id] == [c.text for c in chunk_elements(elements, run.chunking)]


def test_nothing_outside_the_root_is_read(run):
    secret = badcorpus.OUTSIDE_SECRET
    assert all(secret not in text for texts in run.chunks.values() for text in texts)
    assert all(secret not in str(value) for row in run.ledger.values() for value in row.values())
    real_root = os.path.realpath(run.found.documents[0].root)
    assert all(os.path.realpath(d.path).startswith(real_root + os.sep) for d in run.found.documents)
    assert not [doc_id for doc_id in run.ledger if doc_id.startswith("elsewhere")]


def test_an_unreadable_file_is_refused_by_discovery_and_by_parse(run):
    """The file is made unreadable before discovery (a recorded problem) and, for the parse
    stage, as if between discovery and parse: both are `missing`, neither stops anything."""
    if run.unreadable is None:
        pytest.skip(NO_NOBODY)
    found = run.unreadable.discovery
    assert [d.doc_id for d in found.documents] == ["readable.txt"]
    assert run.unreadable.parse_class is ErrorClass.MISSING
    assert "Permission denied" in run.unreadable.parse_message


def test_outcome_table(run):
    """The table of kinds and outcomes (shown with -s); every kind has exactly one row."""
    rows = [(kind.name, kind.doc_id, *recorded(run, kind)) for kind in run.kinds]
    assert len(rows) == len({kind.doc_id for kind in run.kinds}) >= 30
    width = max(len(r[0]) for r in rows)
    print(f"\n{'kind':{width}}  {'outcome':8} {'class':9} message / evidence")
    for name, doc_id, outcome, error_class, message in rows:
        print(f"{name:{width}}  {outcome:8} {error_class:9} {message[:90]}")
