"""Scaling benchmark: the same corpus with 1 and with 2 Dask worker processes, one run each.

Prints each run's wall time, docs/s and chunks/s, and the 2-worker/1-worker throughput ratio,
with the machine's core count (on a 2-core machine the flow process, the Prefect server and the
workers share the same two cores, so the ratio is what it is).

    .venv/bin/python benchmarks/scaling.py --docs 600
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docflow  # noqa: E402,F401

from benchmarks.ingest import run_flow  # noqa: E402
from tests.docbuilders import make_corpus  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=600)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="docflow-scaling-"))
    os.environ.setdefault("DOCFLOW_HOME", str(Path.home() / ".docflow"))
    from docflow.server import ensure_api

    ensure_api(Path(os.environ["DOCFLOW_HOME"]))
    source = work / "corpus"
    make_corpus(source, args.docs)
    rates = {}
    print(f"cpu_count {os.cpu_count()}, documents {args.docs}")
    for workers in (1, 2):
        summary, wall, peak = run_flow(source, work / f"db-{workers}", ["--workers", str(workers)])
        rates[workers] = summary["documents_processed"] / wall
        print(f"workers={workers}: wall {wall:.1f}s, {rates[workers]:.2f} docs/s, "
              f"{summary['chunks_written'] / wall:.2f} chunks/s, peak RSS {peak / 2**20:.0f} MB")
    print(f"throughput ratio 2 workers / 1 worker: {rates[2] / rates[1]:.3f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
