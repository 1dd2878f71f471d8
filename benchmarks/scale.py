"""Scale benchmark: what reruns and syncs cost as the corpus grows, and what a sync of an object
store downloads.

Three modes, each measured in one run:

    .venv/bin/python benchmarks/scale.py --docs 1000 10000         # flow mode: a table per N
    .venv/bin/python benchmarks/scale.py --discovery 1000000       # discovery + skip decision alone
    .venv/bin/python benchmarks/scale.py --s3 --docs 200           # object-store mode on moto's S3

Flow mode builds N tiny real text/markdown documents, runs the first ingest through the CLI, then
measures, for a no-op rerun, a no-op sync, a sync with 1 % changed, one with 1 % touched (mtime
only) and one with 0.5 % deleted: the whole-process wall time, the time inside the flow (the
summary's `elapsed_s`) and the peak RSS of the flow's own process (VmHWM, Dask workers not
included), and prints the per-document marginal cost between the smallest and largest N (the
intercept of that line is the fixed start-up).

Discovery mode builds N files on disk, a ledger of N rows and N checkpoints directly (no flow),
then times discovery with the ledger's versions plus the skip decision, at N/10 and N, so the
growth can be read off.

Object-store mode puts N documents into a bucket on moto's server (loopback) and counts the GET
requests of object bodies in moto's access log during a no-op sync and a 1 %-changed sync."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docflow  # noqa: E402,F401

from benchmarks.ingest import PeakRss  # noqa: E402

PER_DIR = 1000  # documents per directory, as a real tree would spread them
SCENARIOS = ("first ingest", "no-op rerun", "no-op sync", "1% changed", "1% touched", "0.5% deleted")


def load_average() -> str:
    """Printed with each table: other work on the machine inflates every number in it."""
    return "load average %.1f / %.1f / %.1f (1, 5, 15 min)" % os.getloadavg()


def doc_text(i: int, revision: int = 0) -> str:
    return (
        f"# Note {i}\n\nRevision {revision}. Document {i} of the scale benchmark talks about "
        f"topic {i % 97} and keeps retrieval honest with its own words: item-{i}-r{revision}.\n"
    )


def build_corpus(root: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        directory = root / f"d{i // PER_DIR:04d}"
        if i % PER_DIR == 0:
            directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"n{i:07d}.{'md' if i % 2 else 'txt'}"
        path.write_text(doc_text(i), encoding="utf-8")
        paths.append(path)
    return paths


class FlowPeak(PeakRss):
    """The peak RSS of one process (the flow's), not its children: VmHWM is the kernel's own
    high-water mark, so sampling it only has to catch the last value before exit."""

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak = max(self.peak, int(line.split()[1]) * 1024)
            except (OSError, ValueError):
                return
            time.sleep(self.every_s)


@dataclass(frozen=True)
class Measured:
    wall_s: float
    in_flow_s: float
    peak_mb: float
    summary: dict


def run_cli(
    args: list[str], env: dict | None = None, allowed: tuple[int, ...] = (0,), log: Path | None = None
) -> Measured:
    """`log`: where the command's stderr (Prefect's and docflow's log lines) is kept, to be
    searched afterwards for dropped events, "database is locked" and client timeouts."""
    command = [sys.executable, "-m", "docflow.cli", *args, "--json"]
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    with FlowPeak(process.pid, every_s=0.05) as peak:
        out, err = process.communicate()
    wall = time.monotonic() - started
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(err)
    if process.returncode not in allowed:
        raise SystemExit(f"{' '.join(args[:2])} failed ({process.returncode}): {err[-2000:]}")
    summary = json.loads(out)
    return Measured(wall, summary.get("elapsed_s", 0.0), peak.peak / 2**20, summary)


def flow_mode(counts: list[int], work: Path, extra: list[str], logs: Path | None = None) -> None:
    results: dict[int, dict[str, Measured]] = {}
    for n in counts:
        source, db = work / f"corpus-{n}", work / f"db-{n}"
        paths = build_corpus(source, n)
        rng = random.Random(n)
        sample = rng.sample(range(n), k=max(3, int(n * 0.025)))
        one_pct, half_pct = max(1, n // 100), max(1, n // 200)
        changed, touched = sample[:one_pct], sample[one_pct : 2 * one_pct]
        deleted = sample[2 * one_pct : 2 * one_pct + half_pct]
        cmd = [str(source), "--db", str(db), *extra]
        row: dict[str, Measured] = {}

        def run(scenario: str, verb: str) -> Measured:
            log = logs / f"{n}-{scenario.replace(' ', '-').replace('%', 'pct')}.log" if logs else None
            return run_cli([verb, *cmd], log=log)

        row["first ingest"] = run("first ingest", "ingest")
        row["no-op rerun"] = run("no-op rerun", "ingest")
        row["no-op sync"] = run("no-op sync", "sync")
        for i in changed:
            paths[i].write_text(doc_text(i, revision=1), encoding="utf-8")
        row["1% changed"] = run("1% changed", "sync")
        later = time.time() + 60
        for i in touched:
            os.utime(paths[i], (later, later))
        row["1% touched"] = run("1% touched", "sync")
        for i in deleted:
            paths[i].unlink()
        row["0.5% deleted"] = run("0.5% deleted", "sync")
        results[n] = row
        print_flow_table(results)
        shutil.rmtree(source, ignore_errors=True)
        shutil.rmtree(db, ignore_errors=True)


def print_flow_table(results: dict[int, dict[str, Measured]]) -> None:
    counts = sorted(results)
    print(f"\nscale benchmark (flow mode), cpu_count={os.cpu_count()}, {load_average()}")
    header = f"{'scenario':<14}" + "".join(
        f" | {'N=' + str(n):>8} wall   in-flow  flow RSS  processed/deleted" for n in counts
    )
    print(header)
    for name in SCENARIOS:
        line = f"{name:<14}"
        for n in counts:
            m = results[n][name]
            done = f"{m.summary.get('documents_processed', 0)}/{m.summary.get('documents_deleted', 0)}"
            line += f" | {m.wall_s:12.1f}s {m.in_flow_s:8.1f}s {m.peak_mb:7.0f}MB  {done:>17}"
        print(line)
    for n in counts:
        one = results[n]["1% changed"].wall_s / results[n]["first ingest"].wall_s
        print(f"N={n}: 1%-changed sync / first run wall = {one:.1%}")
    if len(counts) < 2:
        return
    lo, hi = counts[0], counts[-1]
    print(f"\nmarginal cost per document between N={lo} and N={hi} (intercept = fixed start-up)")
    for name in SCENARIOS[1:]:
        a, b = results[lo][name], results[hi][name]
        wall_ms = 1000 * (b.wall_s - a.wall_s) / (hi - lo)
        flow_ms = 1000 * (b.in_flow_s - a.in_flow_s) / (hi - lo)
        rss_kb = 1024 * (b.peak_mb - a.peak_mb) / (hi - lo)
        start_s = a.wall_s - lo * wall_ms / 1000
        print(
            f"{name:<14} wall {wall_ms:7.3f} ms/doc, in-flow {flow_ms:7.3f} ms/doc, "
            f"flow RSS {rss_kb:6.2f} kB/doc, fixed start-up {start_s:5.1f}s"
        )


def discovery_mode(n: int, work: Path) -> None:
    """Discovery with the ledger's recorded versions plus the skip decision, on N entries built
    directly (files, ledger rows, checkpoints), at N/10 and at N."""
    from benchmarks.synthetic import build_synthetic, time_decision

    source, db = work / "corpus", work / "db"
    rows = []
    for size in (max(1, n // 10), n):
        started = time.monotonic()
        target, generation, fingerprint = build_synthetic(source, db, size)
        build_s = time.monotonic() - started
        rows.append((size, build_s, *time_decision(source, target, generation, fingerprint)))
        shutil.rmtree(source, ignore_errors=True)
        shutil.rmtree(db, ignore_errors=True)
    print(f"\nscale benchmark (discovery mode), cpu_count={os.cpu_count()}, {load_average()}")
    print(f"{'entries':>9} {'build':>8} {'discover':>9} {'skip':>8} {'total':>8} {'per entry':>10} {'finished':>9}")
    for size, build_s, discover_s, skip_s, finished in rows:
        total = discover_s + skip_s
        print(
            f"{size:>9} {build_s:7.1f}s {discover_s:8.1f}s {skip_s:7.1f}s {total:7.1f}s "
            f"{1e6 * total / size:8.1f}us {finished:>9}"
        )


def s3_mode(n: int, work: Path, extra: list[str]) -> None:
    from tests.s3server import client, moto_s3, object_gets

    log_path = work / "moto.log"
    changed = max(1, n // 100)
    cmd = ["s3://bench/src", "--db", str(work / "db"), *extra]
    rows = []
    with open(log_path, "w") as log, moto_s3("bench", log=log) as env:
        s3 = client(env)
        for i in range(n):
            s3.put_object(Bucket="bench", Key=f"src/n{i:07d}.md", Body=doc_text(i).encode())
        for name, verb in (("first ingest", "ingest"), ("no-op sync", "sync"), ("1% changed", "sync")):
            if name == "1% changed":
                for i in range(changed):
                    s3.put_object(Bucket="bench", Key=f"src/n{i:07d}.md", Body=doc_text(i, 1).encode())
            log.flush()
            mark = log_path.stat().st_size
            measured = run_cli([verb, *cmd], env=env)
            log.flush()
            rows.append((name, measured, object_gets(log_path, mark, "bench", "src/")))
    print(f"\nscale benchmark (object-store mode, moto on loopback), N={n}, cpu_count={os.cpu_count()}")
    print(f"{'scenario':<14} {'wall':>7} {'in-flow':>8} {'processed':>9} {'object GETs':>11}")
    for name, m, gets in rows:
        print(f"{name:<14} {m.wall_s:6.1f}s {m.in_flow_s:7.1f}s {m.summary['documents_processed']:>9} {gets:>11}")
    print(f"changed objects in the 1% sync: {changed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[1000, 10000], help="corpus sizes")
    parser.add_argument("--discovery", type=int, metavar="N", help="discovery + skip mode with N entries")
    parser.add_argument("--s3", action="store_true", help="object-store mode on moto (first --docs value)")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--work", type=Path, help="work directory (default: a new temporary one)")
    parser.add_argument("--logs", type=Path, help="flow mode: keep each command's stderr here")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="docflow-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    extra = ["--workers", str(args.workers)] if args.workers else []
    try:
        if args.discovery:
            discovery_mode(args.discovery, work)
            return
        os.environ.setdefault("DOCFLOW_HOME", str(Path.home() / ".docflow"))
        from docflow.server import ensure_api

        ensure_api(Path(os.environ["DOCFLOW_HOME"]))
        if args.s3:
            s3_mode(args.docs[0], work, extra)
        else:
            flow_mode(sorted(args.docs), work, extra, args.logs)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
