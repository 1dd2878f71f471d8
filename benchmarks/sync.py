"""Sync and export benchmark: incremental sync cost against a full run, export throughput.

Prints, measured in one run on one corpus: the full ingest's wall time, a sync after 1 % of
the documents changed (ratio to the full run; goal <= 3 %), a second sync with nothing changed
(ratio to discovery alone), then an export of the table (rows/s, peak RSS of the exporting
process) and the export's size.

    .venv/bin/python benchmarks/sync.py                  # 1000 generated documents
    .venv/bin/python benchmarks/sync.py --docs 3000 --changed 0.01
    .venv/bin/python benchmarks/sync.py --address tcp://127.0.0.1:8786   # warm, existing cluster
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docflow  # noqa: E402,F401

from benchmarks.ingest import PeakRss  # noqa: E402
from tests.docbuilders import make_corpus, make_txt  # noqa: E402


def timed(command: list[str]) -> tuple[dict, float, int]:
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    with PeakRss(process.pid) as rss:
        out, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{command[3]} failed ({process.returncode})")
    return json.loads(out), time.monotonic() - started, rss.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--changed", type=float, default=0.01, help="share of documents changed")
    parser.add_argument("--address", help="existing Dask scheduler")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="docflow-sync-bench-"))
    os.environ.setdefault("DOCFLOW_HOME", str(Path.home() / ".docflow"))
    from docflow.server import ensure_api

    ensure_api(Path(os.environ["DOCFLOW_HOME"]))
    source, db = work / "corpus", work / "db"
    paths = make_corpus(source, args.docs)
    cli = [sys.executable, "-m", "docflow.cli"]
    extra = ["--address", args.address] if args.address else []

    full, full_wall, _ = timed([*cli, "sync", str(source), "--db", str(db), "--json", *extra])
    changed = max(1, int(len(paths) * args.changed))
    for path in paths[:changed]:
        make_txt(path, topic=f"Changed {path.name}", n=2)
    incremental, sync_wall, _ = timed([*cli, "sync", str(source), "--db", str(db), "--json", *extra])
    idle, idle_wall, _ = timed([*cli, "sync", str(source), "--db", str(db), "--json", *extra])

    from flows.pipeline import build_pipeline
    from docflow.core.settings import DocflowSettings
    from docflow.core.discover import discover
    from docflow.adapters.sources import Sources

    settings = DocflowSettings()
    fingerprint = build_pipeline(settings).config.fingerprint()
    started = time.monotonic()
    discover([str(source)], fingerprint, source_for=Sources(settings.remote_timeout_s))
    discover_s = time.monotonic() - started  # walking and hashing only, modules already loaded

    exported, export_wall, export_peak = timed(
        [*cli, "export", "--out", str(work / "snap"), "--db", str(db), "--json"]
    )
    snapshot_mb = sum(f.stat().st_size for f in (work / "snap").iterdir()) / 2**20

    report = {
        "cpu_count": os.cpu_count(),
        "documents": args.docs,
        "changed_documents": changed,
        "full_run_wall_s": round(full_wall, 1),
        "full_run_elapsed_s": full["elapsed_s"],
        "sync_1pct_wall_s": round(sync_wall, 1),
        "sync_1pct_elapsed_s": incremental["elapsed_s"],
        "sync_1pct_processed": incremental["documents_processed"],
        "sync_to_full_ratio_wall": round(sync_wall / full_wall, 4),
        "sync_to_full_ratio_elapsed": round(incremental["elapsed_s"] / full["elapsed_s"], 4),
        "idle_sync_wall_s": round(idle_wall, 1),
        "idle_sync_elapsed_s": idle["elapsed_s"],
        "idle_sync_processed": idle["documents_processed"],
        "discovery_alone_s": round(discover_s, 3),
        "export_rows": exported["rows"],
        "export_elapsed_s": exported["elapsed_s"],
        "export_rows_per_s_in_flow": exported["rows_per_s"],
        "export_wall_s": round(export_wall, 1),
        "export_peak_rss_mb": round(export_peak / 2**20),
        "snapshot_mb": round(snapshot_mb, 1),
    }
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
