"""Ingest benchmark: the flow against the same stage functions in a bare loop, in one run.

Prints, for one corpus: the bare in-process loop's throughput (torch, as a plain script would
embed), then for each embed backend the flow's throughput (docs/s, chunks/s, tokens embedded
per second: the fair unit when chunkings differ), its ratio to the bare loop (goal >= 1.3 with
the defaults), each stage's share of the workers' time (busy fraction = stage seconds summed
over documents / (workers x flow elapsed)) and the peak RSS of the flow's process tree; then
the rerun wall time of the finished corpus (goal: a few ms per document). ONNX models are built
before the timed runs (their one-off build time is printed apart).

Both sides are cold processes timed from the outside (interpreter start, imports, model load,
work, exit): `docflow ingest` against `benchmarks/ingest.py --bare SRC DB`, a plain loop over
the same stage functions with no Prefect and no Dask. The flow's own `elapsed_s` (from flow
start, excluding interpreter start and cluster shutdown) is printed beside it.

    .venv/bin/python benchmarks/ingest.py                 # the real collection, if unpacked
    .venv/bin/python benchmarks/ingest.py --docs 200      # 200 generated txt/md/html documents
    .venv/bin/python benchmarks/ingest.py --corpus /tmp/corpus/python-docs/usr/share/doc/python3.11/html/library
    .venv/bin/python benchmarks/ingest.py --docs 100 --backends torch onnx-int8

The real collection is described in ../shared/corpora.md (Python's HTML documentation)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docflow  # noqa: E402,F401

from tests.docbuilders import make_corpus  # noqa: E402

REAL_CORPUS = Path("/tmp/corpus/python-docs/usr/share/doc/python3.11/html/library")


class PeakRss:
    """Samples the summed RSS of a process and all its children (the Dask workers)."""

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                total = 0
                for proc in tree:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            time.sleep(self.every_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_flow(source: Path, db: Path, extra: list[str]) -> tuple[dict, float, int]:
    command = [sys.executable, "-m", "docflow.cli", "ingest", str(source), "--db", str(db), "--json", *extra]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    with PeakRss(process.pid) as rss:
        out, _ = process.communicate()
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"flow run failed ({process.returncode})")
    return json.loads(out), wall, rss.peak


def bare_loop(source: Path, db: Path) -> dict:
    """The same stage functions (process_batch: parse, chunk, embed, write, ledger,
    checkpoint; then compaction) in this one process: no Prefect, no Dask."""
    from docflow.core.models import EmbedBackend
    from docflow.core.settings import DocflowSettings
    from flows.pipeline import batch_context, build_pipeline, open_target
    from docflow.core.plan import make_batches
    from docflow.adapters.stores import destination
    from docflow.core.discover import discover
    from docflow.adapters.sources import Sources
    from docflow.core.process import process_batch
    from docflow.core.retry import RetryPolicies

    settings = DocflowSettings(db=str(db), embed_backend=EmbedBackend.TORCH)
    pipeline = build_pipeline(settings)
    target, generation = open_target(settings, pipeline)
    ctx = batch_context(target, generation, pipeline, settings, RetryPolicies(), "bare")
    docs = discover([str(source)], pipeline.config.fingerprint(), source_for=Sources(settings.remote_timeout_s)).documents
    done = chunks = 0
    to = destination(target, generation)
    for batch in make_batches(docs, settings.batch_size, 1):
        for outcome in process_batch(batch, ctx, to).outcomes:
            done += 1
            chunks += outcome.chunk_count
    to.store.compact()
    to.state.compact()
    return {"documents": done, "chunks": chunks}


def run_bare(source: Path, db: Path) -> tuple[dict, float]:
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, __file__, "--bare", str(source), str(db)],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1]), time.monotonic() - started


def embedded_tokens(db: Path, table: str = "chunks") -> int:
    """Word pieces the model read for every chunk of the table (truncated as the model truncates)."""
    from docflow.adapters.stores import open_store, target_of
    from docflow.adapters.embedders.sentence_transformers import default_model_path
    from docflow.core.settings import DocflowSettings
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(default_model_path()) / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    store = open_store(target_of(DocflowSettings(db=str(db), table=table)))
    texts = [r["text"] for r in store.read_columns(["text"])]
    return sum(len(e.ids) for e in tokenizer.encode_batch(texts))


def prebuild(backends: list[str]) -> dict[str, float]:
    """Build (or find) the ONNX files now, so the timed runs measure steady state."""
    from docflow.core.models import EmbedBackend
    from docflow.adapters.embedders.sentence_transformers import default_cache_dir, default_model_path
    from docflow.adapters.embedders.onnx import ensure_built

    seconds = {}
    for name in backends:
        if EmbedBackend(name) is not EmbedBackend.TORCH:
            started = time.monotonic()
            built = ensure_built(default_model_path(), default_cache_dir(), EmbedBackend(name))
            seconds[name] = round(time.monotonic() - started, 1) if built.built else 0.0
    return seconds


def flow_row(summary: dict, wall: float, peak: int, tokens: int, workers: int, bare_docs_s: float) -> dict:
    processed = summary["documents_processed"] + summary["documents_failed"]
    busy_s = workers * max(summary["elapsed_s"], 1e-9)
    stages = {k: v for k, v in summary["stage_s"].items() if k != "discover"}
    return {
        "wall_s": round(wall, 1),
        "docs_per_s": round(processed / wall, 2),
        "chunks_per_s": round(summary["chunks_written"] / wall, 2),
        "tokens_per_s": round(tokens / wall),
        # per second of embed stage, summed over workers: the backend's own speed, little
        # disturbed by what else the run (or the machine) is doing
        "embed_tokens_per_embed_s": round(tokens / max(summary["stage_s"]["embed"], 1e-9)),
        "ratio_vs_bare": round(processed / wall / bare_docs_s, 3),
        "elapsed_s_inside_flow": summary["elapsed_s"],
        "busy": {k: round(v / busy_s, 3) for k, v in stages.items()} | {"total": round(sum(stages.values()) / busy_s, 3)},
        "peak_rss_mb": round(peak / 2**20),
        "chunks": summary["chunks_written"],
        "failed": summary["documents_failed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, help="generated documents instead of the real collection")
    parser.add_argument("--corpus", type=Path, help=f"ingest this directory (default {REAL_CORPUS} "
                        "if it exists, else 1000 generated documents)")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=0)
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx", "onnx-int8"],
                        choices=["torch", "onnx", "onnx-int8"], help="embed backends of the flow runs")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--bare", nargs=2, metavar=("SRC", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        print(json.dumps(bare_loop(Path(args.bare[0]), Path(args.bare[1]))))
        return

    work = Path(tempfile.mkdtemp(prefix="docflow-bench-"))
    os.environ.setdefault("DOCFLOW_HOME", str(Path.home() / ".docflow"))
    from docflow.server import ensure_api

    ensure_api(Path(os.environ["DOCFLOW_HOME"]))
    source = args.corpus or (REAL_CORPUS if REAL_CORPUS.is_dir() and not args.docs else work / "corpus")
    if source == work / "corpus":
        make_corpus(source, args.docs or 1000)
    extra = []
    if args.workers:
        extra += ["--workers", str(args.workers)]
    if args.batch_size:
        extra += ["--batch-size", str(args.batch_size)]
    workers = args.workers or os.cpu_count() or 1
    build_s = prebuild(args.backends)

    bare, bare_wall = run_bare(source, work / "bare-db")
    bare_docs_s = bare["documents"] / bare_wall
    rows = {}
    for backend in args.backends:
        db = work / f"flow-db-{backend}"
        summary, flow_wall, peak = run_flow(source, db, [*extra, "--embed-backend", backend])
        rows[backend] = flow_row(summary, flow_wall, peak, embedded_tokens(db), workers, bare_docs_s)
    first_db = work / f"flow-db-{args.backends[0]}"
    rerun, rerun_wall, _ = run_flow(source, first_db, [*extra, "--embed-backend", args.backends[0]])

    report = {
        "cpu_count": os.cpu_count(),
        "corpus": str(source),
        "documents": bare["documents"],
        "onnx_build_s (once per model)": build_s,
        "bare_wall_s": round(bare_wall, 1),
        "bare_docs_per_s": round(bare_docs_s, 2),
        "bare_chunks_per_s": round(bare["chunks"] / bare_wall, 2),
        "bare_tokens_per_s": round(embedded_tokens(work / "bare-db") / bare_wall),
        "rerun_elapsed_s": rerun["elapsed_s"],
        "rerun_ms_per_doc": round(1000 * rerun["elapsed_s"] / max(1, rerun["documents_total"]), 2),
        "rerun_wall_s_incl_startup": round(rerun_wall, 1),
        "rerun_processed": rerun["documents_processed"],
    }
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    columns = list(next(iter(rows.values())))
    print("\nflow per embed backend (ratio_vs_bare: flow docs/s over the bare loop's, same run)")
    width = max(map(len, columns))
    print(f"{'':<{width}}  " + "  ".join(f"{b:>12}" for b in rows))
    for column in columns:
        if column == "busy":
            for stage in rows[args.backends[0]]["busy"]:
                print(f"{'busy ' + stage:<{width}}  " + "  ".join(f"{r['busy'][stage]:>12}" for r in rows.values()))
        else:
            print(f"{column:<{width}}  " + "  ".join(f"{r[column]:>12}" for r in rows.values()))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
