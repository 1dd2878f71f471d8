"""Crash runner: SIGKILL ingest and sync runs at random (seeded) moments, rerun, reconcile.

Each round changes some documents (new bytes, new files, deletions), starts `docflow sync`,
`docflow ingest` or `docflow export` in its own process group, kills the whole group (flow
process and Dask workers) after a random delay, reruns the same command to completion, and
checks with `docflow verify --source` that the table is exact (for an export: that the resumed
snapshot imports to exactly the rows of its pinned version). An `edit` round is an ingest during
which two documents are rewritten (after discovery has hashed them) and, once the run is over,
reverted, as `git checkout` would: the table must then hold the reverted text. The corpus also
holds documents that must fail, every round: a corrupt PDF and a one-line HTML over the text cap
(DOCFLOW_MAX_TEXT_CHARS, lowered for the runner's commands). It prints one line per kill and the
tally: kills, lost, duplicated, stale, stale texts (an edited document whose chunks are not of its
bytes on disk), redone (documents finished before the kill and processed again), bad snapshots,
bad failures (a document that must fail was not recorded as a parse failure, or one that must
not was) and counters off (a rerun's summary that breaks docflow.core.summary.discrepancies).

    .venv/bin/python benchmarks/kills.py --kills 20 --seed 7
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docflow  # noqa: E402,F401

from docflow.core.summary import discrepancies  # noqa: E402
from tests.docbuilders import make_corpus, make_corrupt_pdf, make_md, make_txt  # noqa: E402
from tests.reliability.badcorpus import MAX_TEXT_CHARS, one_line_html  # noqa: E402

CLI = [sys.executable, "-m", "docflow.cli"]
# Documents every run must record as parse failures, next to the corpus they share batches with.
MUST_FAIL = {"broken.pdf": make_corrupt_pdf, "one-line.html": one_line_html}


def _target(db: Path):
    from docflow.adapters.stores import target_of
    from docflow.core.settings import DocflowSettings

    return target_of(DocflowSettings(db=str(db)))


def ledger_rows(db: Path) -> dict[str, dict]:
    from docflow.adapters.stores import open_state

    return {r["doc_id"]: r for r in open_state(_target(db)).rows().to_pylist()}


def mutate(source: Path, rng: random.Random, round_no: int) -> None:
    files = sorted(p for p in source.iterdir() if p.is_file() and p.name not in MUST_FAIL)
    for path in rng.sample(files, k=min(len(files), 4)):
        make_txt(path, topic=f"Round {round_no} rewrite of {path.stem}", n=rng.randint(1, 4))
    for i in range(rng.randint(1, 5)):
        make_md(source / f"new-{round_no}-{i}.md", topic=f"Round {round_no} new {i}")
    victims = [p for p in files if p.name.startswith("new-")]
    for path in rng.sample(victims, k=min(len(victims), 2)):
        path.unlink()


def bad_failures(ledger: dict[str, dict]) -> list[str]:
    """The documents whose ledger row says the wrong thing about failing: each of MUST_FAIL is a
    parse failure, every other document is done."""
    def wrong(doc_id: str, row: dict) -> bool:
        if doc_id in MUST_FAIL:
            return row["status"] != "failed" or row["error_class"] != "parse"
        return row["status"] != "done"

    return sorted(d for d, r in ledger.items() if wrong(d, r))


def marked(path: Path, marker: str) -> bytes:
    return f"# {path.stem}\n\nThis version of the document carries the marker {marker}.\n".encode()


def stale_texts(db: Path, edited: dict[Path, str]) -> int:
    """Edited documents whose chunks do not carry the marker of the bytes now on disk."""
    from docflow.adapters.stores import open_store

    rows = open_store(_target(db)).read_columns(["doc_id", "text"])
    return sum(1 for path, marker in edited.items()
               if marker not in " ".join(r["text"] for r in rows if r["doc_id"] == path.name))


def export_round(db: Path, out: Path, rng: random.Random) -> tuple[int, bool]:
    """Kill an export mid-way, resume it, and compare the snapshot with an uninterrupted export
    of the version it pinned, each imported into a database of its own."""
    from docflow.adapters.stores import open_store
    from docflow.ports.store import snapshots

    command = [*CLI, "export", "--out", str(out), "--db", str(db), "--part-rows", "3", "--json"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    time.sleep(rng.uniform(0.5, 6.0))
    killed = process.poll() is None
    if killed:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    subprocess.run(command, capture_output=True, check=True)
    version = json.loads((out / "manifest.json").read_text())["version"]
    clean = out.parent / f"{out.name}-clean"
    subprocess.run([*CLI, "export", "--out", str(clean), "--db", str(db), "--version", str(version), "--json"],
                   capture_output=True, check=True)

    def imported(snapshot: Path) -> list[str]:
        store = open_store(_target(out.parent / f"{snapshot.name}-db"))
        snapshots(store, "import").import_snapshot(str(snapshot))
        return sorted(r["chunk_id"] for r in store.read_columns(["chunk_id"]))

    return int(killed), imported(out) == imported(clean)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--docs", type=int, default=60)
    parser.add_argument("--max-delay", type=float, default=25.0, help="latest kill, seconds after start")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="docflow-kills-"))
    os.environ.setdefault("DOCFLOW_HOME", str(Path.home() / ".docflow"))
    from docflow.server import ensure_api

    ensure_api(Path(os.environ["DOCFLOW_HOME"]))
    source, db = work / "src", work / "db"
    os.environ["DOCFLOW_MAX_TEXT_CHARS"] = str(MAX_TEXT_CHARS)  # for the commands it starts
    make_corpus(source, args.docs)
    for name, build in MUST_FAIL.items():
        build(source / name)
    tally = {"kills": 0, "lost": 0, "duplicated": 0, "stale": 0, "stale_texts": 0, "redone": 0,
             "inconsistent_rounds": 0, "bad_snapshots": 0, "bad_failures": 0, "counters_off": 0}
    for round_no in range(1, args.kills + 1):
        mutate(source, rng, round_no)
        verb = rng.choice(["sync", "ingest", "export", "edit"]) if round_no > 1 else "sync"
        if verb == "export":
            killed, ok = export_round(db, work / f"snap-{round_no}", rng)
            tally["kills"] += killed
            tally["bad_snapshots"] += 0 if ok else 1
            print(f"round {round_no:2d}: export {'killed' if killed else 'finished'}; resumed snapshot "
                  f"{'exact' if ok else 'WRONG'}", flush=True)
            continue
        command = [*CLI, "ingest" if verb == "edit" else verb, str(source), "--db", str(db),
                   "--batch-size", "2", "--json"]
        if verb == "sync":
            command.append("--allow-mass-delete")
        delay = rng.uniform(1.0, args.max_delay)
        edited = {}
        if verb == "edit":
            edited = {p: f"EDITA{round_no}x{p.stem}" for p in rng.sample(sorted(source.glob("doc*")), k=2)}
            for path, marker in edited.items():
                path.write_bytes(marked(path, marker))
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        if edited:
            edit_at = rng.uniform(0.5, delay)
            time.sleep(edit_at)
            for path in edited:
                path.write_bytes(marked(path, f"EDITB{round_no}x{path.stem}"))
            time.sleep(delay - edit_at)
        else:
            time.sleep(delay)
        finished_first = process.poll() is not None
        if not finished_first:
            os.killpg(process.pid, signal.SIGKILL)
            tally["kills"] += 1
        process.wait()
        for path, marker in edited.items():
            path.write_bytes(marked(path, marker))
        before = {d: r for d, r in ledger_rows(db).items() if r["status"] == "done"}
        rerun = subprocess.run([*CLI, "sync", str(source), "--db", str(db), "--json", "--allow-mass-delete"],
                               capture_output=True, text=True)
        summary = json.loads(rerun.stdout)
        after = ledger_rows(db)
        redone = sum(1 for d, r in before.items()
                     if d in after and after[d]["fingerprint"] == r["fingerprint"] and after[d]["run_id"] != r["run_id"])
        check = subprocess.run([*CLI, "verify", "--db", str(db), "--source", str(source), "--json"],
                               capture_output=True, text=True)
        report = json.loads(check.stdout)
        counts = report["counts"]
        lost = counts.get("in_source_not_ingested", 0) + counts.get("done_without_chunks", 0) + counts.get("missing_chunks", 0)
        stale = counts.get("stale_chunks", 0) + counts.get("changed_in_source", 0) + counts.get("deleted_from_source", 0) + counts.get("chunks_without_ledger_row", 0)
        tally["lost"] += lost
        tally["duplicated"] += counts.get("duplicate_chunks", 0)
        tally["stale"] += stale
        tally["redone"] += redone
        tally["inconsistent_rounds"] += 0 if report["consistent"] else 1
        misfiled = bad_failures(after)
        tally["bad_failures"] += len(misfiled)
        counting = discrepancies(summary)
        tally["counters_off"] += 1 if counting else 0
        wrong_texts = stale_texts(db, edited)
        tally["stale_texts"] += wrong_texts
        print(f"round {round_no:2d}: {verb:6s} {'killed' if not finished_first else 'finished'} at "
              f"{delay:5.1f}s; rerun processed {summary['documents_processed']}, deleted "
              f"{summary['documents_deleted']}; verify {'ok' if report['consistent'] else counts}; redone {redone}"
              + (f"; edited texts {'WRONG: %d' % wrong_texts if wrong_texts else 'ok'}" if edited else "")
              + (f"; MISFILED {misfiled}" if misfiled else "") + (f"; COUNTERS {counting}" if counting else ""),
              flush=True)
    print("tally:", json.dumps(tally))


if __name__ == "__main__":
    main()
