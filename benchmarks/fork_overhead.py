"""What the per-document fork costs: a plain loop parsing small txt documents in-process and
through `parse.limited` (fork, caps, pickled result), same documents, same process.

    .venv/bin/python benchmarks/fork_overhead.py [--docs 300] [--with-model]

`--with-model` loads the embedding model first, so the forked process is the size of a Dask
worker after its first batch (fork copies page tables, so a bigger parent forks slower). Both
loops are warmed up before timing; each loop runs twice, interleaved, and the faster run of
each counts, which keeps a neighbour's burst of CPU load from deciding the comparison."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docflow  # noqa: F401  (offline environment before any third-party import)
from docflow.core.isolation import Limits
from docflow.adapters.parsers.parse import limited, parse_document
from tests.docbuilders import make_txt


def timed_loop(parse, paths: list[str]) -> list[float]:
    durations = []
    for path in paths:
        started = time.perf_counter()
        parse(path, "txt")
        durations.append(time.perf_counter() - started)
    return durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--with-model", action="store_true")
    args = parser.parse_args()
    if args.with_model:
        from docflow.adapters.embedders import embed_texts
        from docflow.adapters.embedders.sentence_transformers import resolve_model

        embed_texts(["load the model and run torch once"], resolve_model(None))
    isolated = limited(parse_document, Limits(timeout_s=120, memory_mb=2048))
    with tempfile.TemporaryDirectory() as tmp:
        paths = [str(make_txt(Path(tmp) / f"doc{i:04d}.txt", topic=f"Topic {i}")) for i in range(args.docs)]
        parse_document(paths[0], "txt")
        isolated(paths[0], "txt")
        runs: dict[str, list[list[float]]] = {"in-process": [], "isolated": []}
        for _ in range(2):
            runs["in-process"].append(timed_loop(parse_document, paths))
            runs["isolated"].append(timed_loop(isolated, paths))
    best = {name: min(loops, key=sum) for name, loops in runs.items()}
    with open("/proc/self/status") as status:
        rss = next(line.split()[1] for line in status if line.startswith("VmRSS"))
    print(f"{args.docs} small txt documents, parent RSS {int(rss) // 1024} MB, model loaded: {args.with_model}")
    for name, durations in best.items():
        print(
            f"  {name:10s}  total {sum(durations):6.2f} s   mean {statistics.mean(durations) * 1000:6.1f} ms"
            f"   median {statistics.median(durations) * 1000:6.1f} ms"
            f"   p95 {sorted(durations)[int(len(durations) * 0.95)] * 1000:6.1f} ms"
        )
    extra = (sum(best["isolated"]) - sum(best["in-process"])) / args.docs
    print(f"  fork overhead per document: {extra * 1000:.1f} ms")


if __name__ == "__main__":
    main()
