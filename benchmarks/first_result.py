"""Time to a first search hit: `docflow ingest samples` (5 documents), whole process, as a new
user runs it.

Prints, in one run: a cold start (fresh DOCFLOW_HOME, so the managed Prefect server starts
too), then with that server warm the ingest with the default in-process path and with a
local cluster forced (DOCFLOW_IN_PROCESS_MAX_DOCS=0), each --repeat times on a fresh
database, their ratio, the run's own timeline (planned, first batch, batches done, finished:
seconds since the flow started) and the import time of the libraries the seconds go to.
Targets (issue 14): <= 10 s with the server warm, <= 20 s cold.

    .venv/bin/python benchmarks/first_result.py
    .venv/bin/python benchmarks/first_result.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LIBRARIES = ("prefect", "lancedb", "unstructured.partition.auto", "spacy", "onnxruntime", "torch", "sentence_transformers")


def ingest(home: Path, db: Path, **env: str) -> tuple[float, dict]:
    command = [PYTHON, "-m", "docflow.cli", "ingest", str(ROOT / "samples"), "--db", str(db), "--json"]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "DOCFLOW_HOME": str(home), **env})
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"ingest failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, json.loads(done.stdout)


def import_s(module: str) -> float:
    started = time.monotonic()
    subprocess.run([PYTHON, "-c", f"import {module}"], check=True, capture_output=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="docflow-first-result-") as tmp:
        home = Path(tmp) / "home"
        try:
            cold, cold_summary = ingest(home, Path(tmp) / "cold-db")
            rows = [("cold (server start included), in process", cold, cold_summary)]
            walls: dict[str, list[float]] = {"in process": [], "local cluster": []}
            for i in range(args.repeat):  # interleaved: load drifts hit both alike
                for label, env in (("in process", {}), ("local cluster", {"DOCFLOW_IN_PROCESS_MAX_DOCS": "0"})):
                    wall, summary = ingest(home, Path(tmp) / f"db-{label}-{i}", **env)
                    walls[label].append(wall)
                    rows.append((f"warm server, {label}", wall, summary))
        finally:
            subprocess.run([PYTHON, "-m", "docflow.cli", "server", "stop"], capture_output=True,
                           env={**os.environ, "DOCFLOW_HOME": str(home)})

    print("| run | wall s | in flow s | planned | first batch | batches done | processed |")
    print("|---|---|---|---|---|---|---|")
    for label, wall, s in rows:
        t = s.get("timeline_s", {})
        print(f"| {label} | {wall:.1f} | {s['elapsed_s']:.1f} | {t.get('planned', '')} | {t.get('first_batch', '')} "
              f"| {t.get('batches_done', '')} | {s['documents_processed']} |")
    here, cluster = statistics.median(walls["in process"]), statistics.median(walls["local cluster"])
    print(f"\nwarm server, median wall: in process {here:.1f} s (target <= 10 s), local cluster {cluster:.1f} s, "
          f"{cluster / here:.2f}x the in-process time; cold {cold:.1f} s (target <= 20 s)")
    print("\n| library | import s (fresh interpreter) |\n|---|---|")
    for module in LIBRARIES:
        print(f"| {module} | {import_s(module):.2f} |")


if __name__ == "__main__":
    main()
