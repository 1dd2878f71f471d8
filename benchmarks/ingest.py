"""Ingest benchmark: the flow against the same stage functions in a bare loop, in one run.

Prints, for one corpus: flow throughput (docs/s, chunks/s), the bare in-process loop's
throughput over the same documents, their ratio (goal >= 0.9), the rerun wall time of the
finished corpus (goal: a few ms per document) and the peak RSS of the flow's process tree.

Both sides are cold processes timed from the outside (interpreter start, imports, model load,
work, exit): `docflow ingest` against `benchmarks/ingest.py --bare SRC DB`, a plain loop over
the same stage functions with no Prefect and no Dask. The flow's own `elapsed_s` (from flow
start, excluding interpreter start and cluster shutdown) is printed beside it.

    .venv/bin/python benchmarks/ingest.py                 # 1000 generated txt/md/html documents
    .venv/bin/python benchmarks/ingest.py --docs 200
    .venv/bin/python benchmarks/ingest.py --corpus /tmp/corpus/python-docs/usr/share/doc/python3.11/html/library

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
    from docflow.settings import DocflowSettings
    from flows.ingest import batch_context, build_pipeline, make_batches, open_target
    from tasks import store
    from tasks.discover import discover
    from tasks.process import process_batch
    from tasks.retry import RetryPolicies

    settings = DocflowSettings(db=str(db))
    pipeline = build_pipeline(settings)
    target, generation = open_target(settings, pipeline)
    ctx = batch_context(target, generation, pipeline, settings, RetryPolicies(), "bare")
    docs = discover([str(source)], pipeline.config.fingerprint()).documents
    done = chunks = 0
    for batch in make_batches(docs, settings.batch_size, 1):
        for outcome in process_batch(batch, ctx).outcomes:
            done += 1
            chunks += outcome.chunk_count
    connection = store.connect(target.db)
    for name in (target.table, target.ledger_table):
        store.compact(connection.open_table(name))
    return {"documents": done, "chunks": chunks}


def run_bare(source: Path, db: Path) -> tuple[dict, float]:
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, __file__, "--bare", str(source), str(db)],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1]), time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="generated documents")
    parser.add_argument("--corpus", type=Path, help="ingest this directory instead")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=0)
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
    source = args.corpus or work / "corpus"
    if not args.corpus:
        make_corpus(source, args.docs)
    extra = []
    if args.workers:
        extra += ["--workers", str(args.workers)]
    if args.batch_size:
        extra += ["--batch-size", str(args.batch_size)]

    bare, bare_wall = run_bare(source, work / "bare-db")
    summary, flow_wall, peak = run_flow(source, work / "flow-db", extra)
    rerun, rerun_wall, _ = run_flow(source, work / "flow-db", extra)

    processed = summary["documents_processed"] + summary["documents_failed"]
    flow_docs_s = processed / flow_wall
    bare_docs_s = bare["documents"] / bare_wall
    report = {
        "cpu_count": os.cpu_count(),
        "corpus": str(source),
        "documents": summary["documents_total"],
        "flow_wall_s": round(flow_wall, 1),
        "flow_docs_per_s": round(flow_docs_s, 2),
        "flow_chunks_per_s": round(summary["chunks_written"] / flow_wall, 2),
        "flow_elapsed_s_inside_flow": summary["elapsed_s"],
        "bare_wall_s": round(bare_wall, 1),
        "bare_docs_per_s": round(bare_docs_s, 2),
        "bare_chunks_per_s": round(bare["chunks"] / bare_wall, 2),
        "flow_to_bare_ratio": round(flow_docs_s / bare_docs_s, 3),
        "rerun_elapsed_s": rerun["elapsed_s"],
        "rerun_ms_per_doc": round(1000 * rerun["elapsed_s"] / max(1, rerun["documents_total"]), 2),
        "rerun_wall_s_incl_startup": round(rerun_wall, 1),
        "rerun_processed": rerun["documents_processed"],
        "peak_rss_mb_flow_tree": round(peak / 2**20),
        "chunks": summary["chunks_written"],
        "failed": summary["documents_failed"],
    }
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
