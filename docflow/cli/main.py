"""The `docflow` command.

Exit codes: 0 when a run finished (per-document failures are recorded, not fatal), 1 when it
stopped on a system error, 2 for bad arguments, 3 when a sync's deletions were refused by the
mass-deletion guard, 130 when interrupted. With --json, stdout holds
only the JSON object; logs go to stderr."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import NoReturn

from docflow.cli import deploy as cli_deploy
from docflow.core.errors import DocflowError
from docflow.core.models import EmbedBackend

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_GUARDED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", metavar="NAME",
                        help="vector store adapter by name (default DOCFLOW_STORE or the default store)")
    parser.add_argument("--db", help="the store's database URI (default DOCFLOW_DB or the default database)")
    parser.add_argument("--table", help="chunk table (default chunks or DOCFLOW_TABLE)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _embed_backend_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--embed-backend", choices=[b.value for b in EmbedBackend],
                        help=f"how the embedding model runs (default: {default})")


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", help="files, directories or globs")
    _common(parser)
    parser.add_argument("--address", help="existing Dask scheduler, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--workers", type=int, help="local Dask workers (default: one per core)")
    parser.add_argument("--batch-size", type=int, help="documents per task run (default 16)")
    parser.add_argument("--include", action="append", help="glob on doc ids to include")
    parser.add_argument("--exclude", action="append", help="glob on doc ids to exclude")
    parser.add_argument("--model", help="embedding model: a local directory")
    _embed_backend_option(parser, "DOCFLOW_EMBED_BACKEND or torch; a table keeps its backend")
    parser.add_argument("--log-format", choices=["text", "json"], default="text",
                        help="json: one JSON object per log line on stderr")
    parser.add_argument("--rehash", action="store_true",
                        help="read and hash every document, not only those whose stat or ETag changed")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="docflow", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="ingest documents (finished ones are skipped)")
    _run_options(ingest)
    ingest.add_argument("--retry-failed", action="store_true", help="reprocess only failures")

    sync = commands.add_parser("sync", help="add, update and delete to match the sources")
    _run_options(sync)
    sync.add_argument("--dry-run", action="store_true", help="only show what would change")
    sync.add_argument("--allow-mass-delete", action="store_true",
                      help="delete even when the mass-deletion guard would refuse")
    sync.add_argument("--max-delete-fraction", type=float, default=0.2,
                      help="largest share of indexed documents one sync may delete (default 0.2)")

    export = commands.add_parser("export", help="write a versioned snapshot of the table")
    export.add_argument("--out", required=True, help="directory to write (resumes if interrupted)")
    _common(export)
    export.add_argument("--format", choices=["parquet", "jsonl"], default="parquet")
    export.add_argument("--version", type=int, help="table version (default: current at start)")
    export.add_argument("--with-reports", action="store_true", help="also the ledger and run history")
    export.add_argument("--part-rows", type=int, default=10_000, help="rows per part file")

    exports = commands.add_parser("exports", help="export history")
    _common(exports)

    importer = commands.add_parser("import", help="load a snapshot into a table")
    importer.add_argument("snapshot", help="directory written by docflow export")
    _common(importer)
    importer.add_argument("--force", action="store_true", help="import despite a model mismatch")

    verify = commands.add_parser("verify", help="reconcile ledger, table, checkpoints (and source)")
    _common(verify)
    verify.add_argument("--source", nargs="+", metavar="PATH", help="also compare with the source")
    verify.add_argument("--repair", action="store_true", help="re-queue inconsistent documents")

    status = commands.add_parser("status", help="what is done, what failed and why")
    _common(status)
    status.add_argument("--failed", action="store_true", help="list every failed document")

    search = commands.add_parser("search", help="semantic search over the table")
    search.add_argument("query")
    _common(search)
    search.add_argument("-k", type=int, default=5, help="number of hits")
    _embed_backend_option(search, "the table's; another one is refused")

    runs = commands.add_parser("runs", help="recent ingest runs from the Prefect API")
    runs.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    runs.add_argument("-n", type=int, default=10, help="how many runs")

    server = commands.add_parser("server", help="the docflow-managed local Prefect server")
    server.add_argument("action", choices=["start", "stop", "status"])
    server.add_argument("--database", metavar="URL",
                        help="start: PostgreSQL for the server (postgresql://user:password@host:port/db); "
                        "default: SQLite under DOCFLOW_HOME")
    cli_deploy.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _environment_from_args(args)
    from docflow.core.settings import DocflowSettings

    try:
        settings = DocflowSettings()
        if settings.store:
            from docflow.adapters.stores import resolve_name

            resolve_name(settings.store)
    except ValueError as exc:
        print(f"docflow: bad settings: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DocflowError as exc:
        print(f"docflow: {exc}", file=sys.stderr)
        return EXIT_USAGE
    handler = {
        "ingest": _ingest,
        "sync": _sync,
        "export": _export,
        "exports": _exports,
        "import": _import,
        "verify": _verify,
        "status": _status,
        "search": _search,
        "runs": _runs,
        "server": _server,
        "deploy": cli_deploy.deploy,
        "trigger": cli_deploy.trigger,
        "worker": cli_deploy.worker,
    }
    return handler[args.command](args, settings)


def _environment_from_args(args: argparse.Namespace) -> None:
    """Arguments become DOCFLOW_* variables so the flow, its task runner and every Dask worker
    process see the same settings."""
    mapping = {
        "store": "DOCFLOW_STORE",
        "db": "DOCFLOW_DB",
        "table": "DOCFLOW_TABLE",
        "address": "DOCFLOW_ADDRESS",
        "workers": "DOCFLOW_WORKERS",
        "batch_size": "DOCFLOW_BATCH_SIZE",
        "model": "DOCFLOW_MODEL",
        "embed_backend": "DOCFLOW_EMBED_BACKEND",
    }
    for attr, env in mapping.items():
        value = getattr(args, attr, None)
        if value is not None:
            os.environ[env] = str(value)
    # distributed logs every worker start and stop at INFO; keep the terminal for progress.
    os.environ.setdefault("DASK_DISTRIBUTED__LOGGING__DISTRIBUTED", "warning")


def _ingest(args: argparse.Namespace, settings) -> int:
    return _run_flow(args, settings, "ingest", {"retry_failed": args.retry_failed, "rehash": args.rehash})


def _sync(args: argparse.Namespace, settings) -> int:
    return _run_flow(
        args,
        settings,
        "sync",
        {
            "dry_run": args.dry_run,
            "allow_mass_delete": args.allow_mass_delete,
            "max_delete_fraction": args.max_delete_fraction,
            "rehash": args.rehash,
        },
    )


def _flow_environment(args: argparse.Namespace, settings, log_format: str) -> bool | None:
    """What every command that runs a flow needs first: a Prefect API (found or started),
    SIGTERM treated like Ctrl-C, and logging for the terminal at hand. Returns whether the
    terminal is interactive, or None when there is no API."""
    from docflow.server import ensure_api

    try:
        ensure_api(settings.home)
    except RuntimeError as exc:
        print(f"docflow: no Prefect API: {exc}", file=sys.stderr)
        return None
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill = Ctrl-C: cancel cleanly
    from docflow.cli.terminal import configure_logging, is_interactive

    interactive = is_interactive(args.json)
    configure_logging(args.json, log_format, interactive)
    return interactive


def _run_flow(args: argparse.Namespace, settings, kind: str, extra: dict) -> int:
    interactive = _flow_environment(args, settings, args.log_format)
    if interactive is None:
        return EXIT_FAILED
    import httpx

    from docflow.cli.terminal import progress_bar
    from flows.finish import summary_of
    from flows.progress import SUMMARY_LISTENERS
    from docflow.core.locations import is_remote

    if kind == "ingest":
        for path in args.paths:
            if not is_remote(path) and not os.path.exists(path) and not set("*?[") & set(path):
                print(f"docflow: source does not exist: {path}", file=sys.stderr)
                return EXIT_USAGE
        from flows.ingest import ingest as flow_fn
    else:
        from flows.sync import sync as flow_fn
    delivered: list[dict] = []
    SUMMARY_LISTENERS.append(delivered.append)
    try:
        with progress_bar(interactive):
            state = flow_fn(
                paths=[p if is_remote(p) else os.path.abspath(p) for p in args.paths],
                db=settings.db,
                table=settings.table,
                batch_size=settings.batch_size,
                include=args.include,
                exclude=args.exclude,
                model=settings.model,
                return_state=True,
                **extra,
            )
    except KeyboardInterrupt:
        print("docflow: interrupted; finished documents are kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    except httpx.HTTPError as exc:
        if delivered:
            _emit(args, delivered[-1], _summary_text(delivered[-1]))
        _lost_api(exc)
    finally:
        SUMMARY_LISTENERS.remove(delivered.append)
    summary = summary_of(state)
    if summary is None:
        print(f"docflow: run ended {state.type.value}: {state.message}", file=sys.stderr)
        return EXIT_FAILED
    _emit(args, summary, _summary_text(summary))
    return _exit_code(summary)


def _lost_api(exc: Exception) -> NoReturn:
    """Say so and leave without Prefect's exit handlers: they drain queued logs and events to
    the lost API, retrying each for about a minute, which kept the process alive for minutes
    after the work was done."""
    print(
        f"docflow: lost the Prefect API ({exc}); the work done is kept, and the next run "
        "resumes and marks this flow run Crashed",
        file=sys.stderr,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_FAILED)


def _export(args: argparse.Namespace, settings) -> int:
    interactive = _flow_environment(args, settings, "text")
    if interactive is None:
        return EXIT_FAILED
    import httpx

    from docflow.cli.terminal import progress_bar
    from flows.export import export

    try:
        with progress_bar(interactive):
            state = export(
                out=os.path.abspath(args.out),
                db=settings.db,
                table=settings.table,
                format=args.format,
                version=args.version,
                with_reports=args.with_reports,
                part_rows=args.part_rows,
                store=settings.store or None,
                return_state=True,
            )
    except httpx.HTTPError as exc:
        _lost_api(exc)
    summary = state.result(raise_on_failure=False)
    if not isinstance(summary, dict):
        print(f"docflow: export failed: {summary}", file=sys.stderr)
        return EXIT_FAILED
    _emit(args, summary, (
        f"exported {summary['rows']} rows of {summary['table']} v{summary['version']} to "
        f"{summary['out_dir']} ({summary['parts_written']} parts written, "
        f"{summary['parts_reused']} reused) in {summary['elapsed_s']:.1f}s"
    ))
    return EXIT_OK


def _exports(args: argparse.Namespace, settings) -> int:
    from docflow.adapters.stores import open_state, target_of

    rows = open_state(target_of(settings)).export_history()
    text = "\n".join(
        f"{r['started_at']:%Y-%m-%d %H:%M:%S}  v{r['version']:<5} {r['rows']:>8} rows "
        f"{r['format']:<8} {r['duration_s']:>7.1f}s  {r['out_dir']}"
        for r in rows
    )
    _emit(args, {"exports": rows}, text or "no exports yet")
    return EXIT_OK


def _import(args: argparse.Namespace, settings) -> int:
    from docflow.adapters.stores import open_store, target_of
    from docflow.core.errors import DocflowError
    from docflow.ports.store import snapshots

    try:
        rows = snapshots(open_store(target_of(settings)), "import").import_snapshot(args.snapshot, force=args.force)
    except DocflowError as exc:
        print(f"docflow: {exc}", file=sys.stderr)
        return EXIT_FAILED
    _emit(args, {"rows": rows, "table": settings.table, "db": settings.db},
          f"imported {rows} rows into {settings.table} in {settings.db}")
    return EXIT_OK


def _store_failures(command):
    """verify and status read the tables directly: a storage fault (an unreadable manifest, an
    unreachable bucket) ends in one classified line with what to do, not a traceback."""

    def run(args: argparse.Namespace, settings) -> int:
        from docflow.adapters.stores import open_store, target_of
        from docflow.core.verify import ensure_readable, explain

        store = open_store(target_of(settings))
        try:
            ensure_readable(store)
            return command(args, settings)
        except Exception as exc:  # noqa: BLE001 - explained below
            error = explain(exc, store, "flow")
            print(f"docflow: {error.error_class.value} error: {error}", file=sys.stderr)
            return EXIT_FAILED

    return run


@_store_failures
def _verify(args: argparse.Namespace, settings) -> int:
    from flows.pipeline import build_pipeline
    from docflow.adapters.checkpoints.checkpoint import PrefectCheckpoints
    from docflow.adapters.sources import Sources
    from docflow.adapters.stores import open_state, open_store, target_of
    from docflow.core.discover import discover
    from docflow.core.verify import repair, verify

    target = target_of(settings)
    store = open_store(target)
    info = store.info()
    if info is None:
        print(f"docflow: no table {settings.table!r} in {settings.db}", file=sys.stderr)
        return EXIT_FAILED
    checkpoints = PrefectCheckpoints.of(target, info.generation)
    source = None
    if args.source:
        fingerprint = build_pipeline(settings).config.fingerprint()
        found = discover(
            args.source, fingerprint, settings.include, settings.exclude,
            source_for=Sources(settings.remote_timeout_s),
        )
        source = found.documents
    report = verify(store, open_state(target), checkpoints, source)
    payload = report.as_dict()
    if args.repair:
        payload["requeued"] = repair(store, checkpoints, report)
    lines = [f"{'consistent' if report.consistent else 'INCONSISTENT'}: {report.documents} documents, "
             f"{report.chunks} chunks"]
    lines += [f"  {kind}: {n} e.g. {', '.join(payload['examples'][kind][:3])}"
              for kind, n in payload["counts"].items() if n]
    if args.repair:
        lines.append(f"re-queued {len(payload['requeued'])} documents; run docflow ingest (or sync) to rebuild them")
    _emit(args, payload, "\n".join(lines))
    return EXIT_OK if report.consistent else EXIT_FAILED


def _exit_code(summary: dict) -> int:
    outcome = summary["outcome"]
    if outcome in ("completed", "dry-run"):
        return EXIT_OK
    if outcome == "cancelled":
        return EXIT_INTERRUPTED
    print(f"docflow: {outcome}: {summary['reason']}", file=sys.stderr)
    return EXIT_GUARDED if outcome == "guarded" else EXIT_FAILED


def _summary_text(summary: dict) -> str:
    failures = ", ".join(f"{k}={v}" for k, v in summary["failures_by_class"].items() if v)
    return (
        f"{summary['outcome']}: {summary['documents_processed']} processed, "
        f"{summary['documents_deleted']} deleted, "
        f"{summary['documents_skipped']} skipped, {summary['documents_failed']} failed"
        f"{' (' + failures + ')' if failures else ''} of {summary['documents_total']}; "
        f"{summary['chunks_written']} chunks in {summary['elapsed_s']:.1f}s "
        f"({summary['docs_per_s']:.2f} docs/s)"
        f"{_ignored_text(summary)}"
    )


def _ignored_text(summary: dict) -> str:
    """`; 3 files ignored (unknown_extension 3: .zip 2, .sqlite 1)`, or "" when none were."""
    if not summary.get("documents_ignored"):
        return ""
    extensions = ", ".join(f"{e} {n}" for e, n in summary.get("ignored_by_extension", {}).items())
    reasons = ", ".join(
        f"{r} {n}{': ' + extensions if r == 'unknown_extension' and extensions else ''}"
        for r, n in sorted(summary.get("ignored_by_reason", {}).items())
    )
    return f"; {summary['documents_ignored']} files ignored ({reasons})"


@_store_failures
def _status(args: argparse.Namespace, settings) -> int:
    from docflow.adapters.stores import open_state, open_store, target_of

    target = target_of(settings)
    state = open_state(target)
    if not state.exists():
        print(f"docflow: nothing ingested into {settings.table!r} in {settings.db}", file=sys.stderr)
        return EXIT_FAILED
    failures = state.failures()
    by_class: dict[str, list[str]] = {}
    for failure in failures:
        by_class.setdefault(failure["error_class"] or "unknown", []).append(failure["doc_id"])
    report = {
        "table": settings.table,
        "counts": state.status_counts(),
        "chunks": open_store(target).count(),
        "failures_by_class": {k: len(v) for k, v in sorted(by_class.items())},
        "runs": [
            {
                "run_id": r["run_id"],
                "started_at": r["started_at"].isoformat(),
                "duration_s": round((r["finished_at"] - r["started_at"]).total_seconds(), 1),
                "outcome": r["outcome"],
            }
            for r in state.recent_runs(5)
        ],
    }
    last = state.recent_runs(1)
    last_summary = json.loads(last[0]["summary_json"] or "{}") if last else {}
    report["last_run_ignored"] = {
        k: last_summary.get(k, 0 if k == "documents_ignored" else {})
        for k in ("documents_ignored", "ignored_by_reason", "ignored_by_extension")
    }
    if args.failed:
        report["failed"] = failures
    lines = [
        f"table {settings.table}: {report['chunks']} chunks; "
        + ", ".join(f"{k} {v}" for k, v in report["counts"].items())
        + _ignored_text(report["last_run_ignored"]).replace("ignored", "ignored by the last run", 1)
    ]
    lines += [f"  {cls}: {len(ids)} e.g. {ids[0]}" for cls, ids in sorted(by_class.items())]
    lines += [f"run {r['run_id']} {r['started_at']} {r['duration_s']}s {r['outcome']}" for r in report["runs"]]
    if args.failed:
        lines += [
            f"FAILED {f['doc_id']} [{f['error_class']} at {f['stage']}, {f['attempts']} attempts] "
            f"{f['error_message']}"
            for f in failures
        ]
    _emit(args, report, "\n".join(lines))
    return EXIT_OK


def _search(args: argparse.Namespace, settings) -> int:
    from dataclasses import asdict

    from functools import partial

    from docflow.adapters.embedders import embedder_for_table
    from docflow.adapters.stores import open_store, target_of
    from docflow.core.errors import DocflowError
    from docflow.core.search import search

    embedder_for = partial(
        embedder_for_table, device=settings.device, backend=args.embed_backend, cache_dir=settings.model_cache_dir
    )
    try:
        hits = search(open_store(target_of(settings)), args.query, embedder_for, k=args.k)
    except DocflowError as exc:
        print(f"docflow: {exc}", file=sys.stderr)
        return EXIT_FAILED
    text = "\n".join(
        f"{h.score:.3f}  {h.doc_id}#{h.chunk_index}"
        f"{f' p.{h.page}' if h.page else ''}{f' [{h.title}]' if h.title else ''}\n"
        f"       {h.text[:200].replace(chr(10), ' ')}"
        for h in hits
    )
    _emit(args, {"query": args.query, "hits": [asdict(h) for h in hits]}, text or "no hits")
    return EXIT_OK


def _runs(args: argparse.Namespace, settings) -> int:
    from docflow.server import ServerInfo, configured_api_url, managed_server, use_server

    configured = configured_api_url()
    info = ServerInfo(configured, None, False) if configured else managed_server(settings.home)
    if info is None:
        print("docflow: no Prefect API configured or running (docflow server start)", file=sys.stderr)
        return EXIT_FAILED
    use_server(settings.home, info)
    from flows.history import recent_ingest_runs

    runs = recent_ingest_runs(args.n)
    lines = [
        f"{r['flow_run_id']}  {r['name']:<24} {r['state']:<10} {r['start_time'] or '-':<32} "
        f"{r['duration_s'] if r['duration_s'] is not None else '-':>8}s  "
        + (
            f"{r['summary'].get('documents_processed', '?')} processed, "
            f"{r['summary'].get('documents_skipped', '?')} skipped, "
            f"{r['summary'].get('documents_failed', '?')} failed"
            if r["summary"]
            else "(no summary)"
        )
        for r in runs
    ]
    _emit(args, {"runs": runs}, "\n".join(lines) or "no ingest runs yet")
    return EXIT_OK


def _server(args: argparse.Namespace, settings) -> int:
    from docflow import server

    if args.action == "start":
        try:
            info = server.ensure_api(settings.home, database=args.database)
        except ValueError as exc:
            print(f"docflow: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"Prefect API at {info.url} ({'docflow-managed' if info.managed else 'configured'})")
        print(f"UI: {info.url.removesuffix('/api')}")
        if info.managed and server.auth_file(settings.home).exists():
            print(f"UI and API login: the user:password in {server.auth_file(settings.home)}")
    elif args.action == "stop":
        print("stopped" if server.stop_server(settings.home) else "no docflow-managed server")
    else:
        info = server.managed_server(settings.home)
        configured = server.configured_api_url()
        print(f"configured PREFECT_API_URL: {configured or '-'}")
        print(f"docflow-managed server: {info.url if info else 'not running'}")
        if configured or info:
            auth = cli_deploy.managed_auth_file(settings.home, info) if info and not configured else None
            print(cli_deploy.worker_hint(configured or info.url, auth_file=auth))
    return EXIT_OK


def _emit(args: argparse.Namespace, payload: dict, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(payload, default=str, sort_keys=True))
    else:
        print(text)

