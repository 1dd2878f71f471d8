"""The `docflow` command: parses arguments, builds the settings once from them (over DOCFLOW_*
variables and the defaults), calls docflow.service and prints.

Exit codes are docflow.cli.exits'. With --json, stdout holds only the JSON object; logs go to
stderr."""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
from typing import NoReturn

from docflow.cli import deploy as cli_deploy
from docflow.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, exit_code
from docflow.core.errors import DocflowError
from docflow.core.models import EmbedBackend
from docflow.core.settings import MAX_DELETE_FRACTION, PART_ROWS


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
    _embed_backend_option(parser, "DOCFLOW_EMBED_BACKEND, else the table's; onnx-int8 for a new table")
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
    sync.add_argument("--max-delete-fraction", type=float, default=MAX_DELETE_FRACTION,
                      help=f"largest share of indexed documents one sync may delete (default {MAX_DELETE_FRACTION})")

    export = commands.add_parser("export", help="write a versioned snapshot of the table")
    export.add_argument("--out", required=True, help="directory to write (resumes if interrupted)")
    _common(export)
    export.add_argument("--format", choices=["parquet", "jsonl"], default="parquet")
    export.add_argument("--version", type=int, help="table version (default: current at start)")
    export.add_argument("--with-reports", action="store_true", help="also the ledger and run history")
    export.add_argument("--part-rows", type=int, default=PART_ROWS, help="rows per part file")

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


def run() -> int:
    """The process entry point (`docflow`, `python -m docflow.cli`). Once the command is done,
    the objects left are frozen out of the garbage collector: the interpreter's final
    collections over everything Prefect, LanceDB and unstructured loaded took about 2 s of
    every command's wall time, and the process is about to exit. Atexit handlers (Prefect's
    log and event flushing among them) still run."""
    code = main()
    gc.freeze()
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from docflow.service import settings_from

    try:
        settings = settings_from(settings_from_args(args))
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


SETTINGS_ARGS = ("store", "db", "table", "address", "workers", "batch_size", "model", "embed_backend")


def settings_from_args(args: argparse.Namespace) -> dict:
    """The arguments that are settings, where given; the rest comes from DOCFLOW_* variables
    and the defaults."""
    return {name: value for name in SETTINGS_ARGS if (value := getattr(args, name, None)) is not None}


def _ingest(args: argparse.Namespace, settings) -> int:
    from docflow.service import runs

    missing = runs.missing_sources(args.paths)
    if missing:
        print(f"docflow: source does not exist: {missing[0]}", file=sys.stderr)
        return EXIT_USAGE
    return _run_flow(args, settings, lambda on_progress: runs.ingest(
        settings, args.paths, on_progress, include=args.include, exclude=args.exclude,
        retry_failed=args.retry_failed, rehash=args.rehash,
    ))


def _sync(args: argparse.Namespace, settings) -> int:
    from docflow.service import runs

    return _run_flow(args, settings, lambda on_progress: runs.sync(
        settings, args.paths, on_progress, include=args.include, exclude=args.exclude, dry_run=args.dry_run,
        allow_mass_delete=args.allow_mass_delete, max_delete_fraction=args.max_delete_fraction, rehash=args.rehash,
    ))


def _flow_environment(args: argparse.Namespace, settings, log_format: str) -> bool | None:
    """What every command that runs a flow needs first: a Prefect API (found or started; a
    server that is starting boots while this process imports the run's libraries), SIGTERM
    treated like Ctrl-C, and logging for the terminal at hand. Returns whether the terminal is
    interactive, or None when there is no API."""
    from docflow.server import start_api

    try:
        api_ready = start_api(settings.home)
    except RuntimeError as exc:
        print(f"docflow: no Prefect API: {exc}", file=sys.stderr)
        return None
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill = Ctrl-C: cancel cleanly
    from docflow.cli.terminal import configure_logging, is_interactive
    from docflow.service.runs import prepare

    interactive = is_interactive(args.json)
    configure_logging(args.json, log_format, interactive)
    prepare(settings, args.command)
    try:
        api_ready()
    except RuntimeError as exc:
        print(f"docflow: no Prefect API: {exc}", file=sys.stderr)
        return None
    return interactive


def _run_flow(args: argparse.Namespace, settings, run) -> int:
    """`run(on_progress)` is the service call; its result is printed and becomes the exit code."""
    interactive = _flow_environment(args, settings, args.log_format)
    if interactive is None:
        return EXIT_FAILED
    from docflow.cli.terminal import progress_bar
    from docflow.service.runs import LostApi

    try:
        with progress_bar(interactive) as on_progress:
            result = run(on_progress)
    except KeyboardInterrupt:
        print("docflow: interrupted; finished documents are kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    except LostApi as lost:
        if lost.summary:
            _emit(args, lost.summary, _summary_text(lost.summary))
        _lost_api(lost)
    if result.summary is None:
        print(f"docflow: run ended {result.ended}", file=sys.stderr)
        return EXIT_FAILED
    _emit(args, result.summary, _summary_text(result.summary))
    return _exit_code(result.summary)


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
    from docflow.cli.terminal import progress_bar
    from docflow.service import runs

    try:
        with progress_bar(interactive) as on_progress:
            summary = runs.export(settings, args.out, on_progress, format=args.format, version=args.version,
                                  with_reports=args.with_reports, part_rows=args.part_rows)
    except runs.LostApi as lost:
        _lost_api(lost)
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
    from docflow.service import tables

    rows = tables.exports(settings)
    text = "\n".join(
        f"{r['started_at']:%Y-%m-%d %H:%M:%S}  v{r['version']:<5} {r['rows']:>8} rows "
        f"{r['format']:<8} {r['duration_s']:>7.1f}s  {r['out_dir']}"
        for r in rows
    )
    _emit(args, {"exports": rows}, text or "no exports yet")
    return EXIT_OK


def _import(args: argparse.Namespace, settings) -> int:
    from docflow.service import tables

    try:
        rows = tables.load_snapshot(settings, args.snapshot, args.force)
    except tables.StoreUnavailable as exc:
        print(f"docflow: {exc}", file=sys.stderr)
        return EXIT_FAILED
    _emit(args, {"rows": rows, "table": settings.table, "db": settings.db},
          f"imported {rows} rows into {settings.table} in {settings.db}")
    return EXIT_OK


def _table_question(command):
    """verify and status: a table that cannot be read, or is not there, ends in one line."""

    def run(args: argparse.Namespace, settings) -> int:
        from docflow.service import tables

        try:
            return command(args, settings)
        except (tables.StoreUnavailable, tables.NotFound) as exc:
            print(f"docflow: {exc}", file=sys.stderr)
            return EXIT_FAILED

    return run


@_table_question
def _verify(args: argparse.Namespace, settings) -> int:
    from docflow.service import tables

    payload = tables.verify(settings, args.source, args.repair)
    lines = [f"{'consistent' if payload['consistent'] else 'INCONSISTENT'}: {payload['documents']} documents, "
             f"{payload['chunks']} chunks"]
    lines += [f"  {kind}: {n} e.g. {', '.join(payload['examples'][kind][:3])}"
              for kind, n in payload["counts"].items() if n]
    if args.repair:
        lines.append(f"re-queued {len(payload['requeued'])} documents; run docflow ingest (or sync) to rebuild them")
    _emit(args, payload, "\n".join(lines))
    return EXIT_OK if payload["consistent"] else EXIT_FAILED


def _exit_code(summary: dict) -> int:
    code = exit_code(summary["outcome"])
    if code not in (EXIT_OK, EXIT_INTERRUPTED):
        print(f"docflow: {summary['outcome']}: {summary['reason']}", file=sys.stderr)
    return code


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


@_table_question
def _status(args: argparse.Namespace, settings) -> int:
    from docflow.service import tables

    found = tables.status(settings, args.failed)
    report = found.report
    lines = [
        f"table {settings.table}: {report['chunks']} chunks; "
        + ", ".join(f"{k} {v}" for k, v in report["counts"].items())
        + _ignored_text(report["last_run_ignored"]).replace("ignored", "ignored by the last run", 1)
    ]
    lines += [f"  {cls}: {n} e.g. {found.examples[cls]}" for cls, n in report["failures_by_class"].items()]
    lines += [f"run {r['run_id']} {r['started_at']} {r['duration_s']}s {r['outcome']}" for r in report["runs"]]
    if args.failed:
        lines += [
            f"FAILED {f['doc_id']} [{f['error_class']} at {f['stage']}, {f['attempts']} attempts] "
            f"{f['error_message']}"
            for f in report["failed"]
        ]
    _emit(args, report, "\n".join(lines))
    return EXIT_OK


def _search(args: argparse.Namespace, settings) -> int:
    from docflow.service import tables

    try:
        hits = tables.search(settings, args.query, args.k, args.embed_backend)
    except tables.StoreUnavailable as exc:
        print(f"docflow: {exc}", file=sys.stderr)
        return EXIT_FAILED
    text = "\n".join(_hit_text(h) for h in hits)
    _emit(args, {"query": args.query, "hits": hits}, text or "no hits")
    return EXIT_OK


def _hit_text(hit: dict) -> str:
    page = f" p.{hit['page']}" if hit["page"] else ""
    title = f" [{hit['title']}]" if hit["title"] else ""
    snippet = hit["text"][:200].replace("\n", " ")
    return f"{hit['score']:.3f}  {hit['doc_id']}#{hit['chunk_index']}{page}{title}\n       {snippet}"


def _runs(args: argparse.Namespace, settings) -> int:
    from docflow.server import ServerInfo, configured_api_url, managed_server, use_server

    configured = configured_api_url()
    info = ServerInfo(configured, None, False) if configured else managed_server(settings.home)
    if info is None:
        print("docflow: no Prefect API configured or running (docflow server start)", file=sys.stderr)
        return EXIT_FAILED
    use_server(settings.home, info)
    from docflow.service import tables

    runs = tables.recent_runs(args.n)
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

