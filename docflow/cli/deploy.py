"""`docflow deploy`, `docflow worker` and `docflow trigger`: deployments on a real Prefect server.

`deploy` is `prefect deploy` from the generated prefect.yaml plus the work pool and block types;
`trigger` is `prefect.deployments.run_deployment` with `--param key=value` pairs typed by the
deployment's parameter schema, so `--param paths=/docs` means the list ["/docs"] and
`--param batch_size=4` the integer 4. The server validates the parameters; its message, which
names the field, is printed as is. `worker start` is `prefect worker start` with PREFECT_API_URL
set to the API docflow uses: a plain `prefect worker start` without it would start a temporary
server of its own, where the pool does not exist. Prefect is imported only after `ensure_api`
has put the API URL in the environment."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from deployments.registry import DEPLOYMENTS, WORK_POOL, get, names


class ParamError(ValueError):
    """A --param that cannot be turned into a parameter of this deployment."""


def add_parsers(commands) -> None:
    deploy = commands.add_parser("deploy", help="create the Prefect deployments (prefect.yaml)")
    deploy.add_argument("--only", action="append", choices=names(), help="deploy only this one")
    deploy.add_argument("--pool", default=WORK_POOL, help=f"process work pool (default {WORK_POOL})")
    deploy.add_argument("--alert-block", metavar="BLOCK-TYPE/NAME",
                        help="notify through this Prefect notification block (e.g. custom-webhook/ops) "
                        "when a docflow deployment's run fails, crashes or has its deletions refused")
    deploy.add_argument("--write-yaml", action="store_true",
                        help="regenerate prefect.yaml from deployments/registry.py and stop")

    worker = commands.add_parser("worker", help="run the deployments' flow runs (prefect worker start "
                                 "on the API docflow uses)")
    worker.add_argument("action", choices=["start"])
    worker.add_argument("--pool", default=WORK_POOL, help=f"work pool to poll (default {WORK_POOL})")

    trigger = commands.add_parser("trigger", help="start a deployment's flow run through the API")
    trigger.add_argument("deployment", choices=names())
    trigger.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                         help="a flow parameter; repeat a list parameter's key to add items")
    trigger.add_argument("--wait", action="store_true", help="wait for the run's final state")
    trigger.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def deploy(args: argparse.Namespace, settings) -> int:
    from docflow.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from deployments import prefect_yaml

    if args.write_yaml:
        prefect_yaml.write()
        print(f"wrote {prefect_yaml.PREFECT_YAML}")
        return EXIT_OK
    if not prefect_yaml.is_current():
        print(f"docflow: {prefect_yaml.PREFECT_YAML} differs from deployments/registry.py; "
              "run `docflow deploy --write-yaml` (or edit the registry, not the file)", file=sys.stderr)
        return EXIT_USAGE
    specs = [spec for spec in DEPLOYMENTS if not args.only or spec.name in args.only]
    info = _api(settings)
    if info is None:
        return EXIT_FAILED
    from deployments.deploy import ensure_work_pool, ensure_work_queues, prefect_deploy, register_block_types

    created = ensure_work_pool(args.pool)
    print(f"work pool {args.pool}: {'created' if created else 'exists'} (type process)")
    queues = ensure_work_queues(args.pool)
    print("work queues (lowest priority number served first): "
          + ", ".join(f"{name} {priority}" for name, priority in sorted(queues.items(), key=lambda q: q[1])))
    print(f"block types: {', '.join(register_block_types())}")
    result = prefect_deploy(specs, args.pool)
    if result.returncode != 0:
        print(f"docflow: prefect deploy failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}",
              file=sys.stderr)
        return EXIT_FAILED
    from deployments.schema import make_strict

    make_strict(specs)
    for spec in specs:
        print(f"deployed {spec.full_name}")
    if args.alert_block:
        from deployments.alerts import AUTOMATION_NAME, ALERT_STATES, AlertBlockError, ensure_alerts

        try:
            ensure_alerts(args.alert_block, DEPLOYMENTS)
        except AlertBlockError as exc:
            print(f"docflow: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"alerts: automation {AUTOMATION_NAME!r} notifies {args.alert_block} on "
              f"{', '.join(ALERT_STATES)}")
    print(worker_hint(info.url, args.pool, managed_auth_file(settings.home, info)))
    print(f"UI: {info.url.removesuffix('/api')}/deployments")
    return EXIT_OK


def worker_argv(pool: str) -> list[str]:
    """Prefect's worker with this environment's Python: it imports the flows' code."""
    return [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"]


def worker_hint(api_url: str, pool: str = WORK_POOL, auth_file: Path | None = None) -> str:
    """The commands that start a worker on `api_url`, ready to paste: with the managed
    server's auth string read from `auth_file` (never printed) and this shell's allowed roots,
    which runs started through the API need."""
    bin_dir = Path(sys.executable).parent
    roots = os.environ.get("DOCFLOW_ALLOWED_ROOTS")
    allowed = f"DOCFLOW_ALLOWED_ROOTS={shlex.quote(roots)} " if roots else ""
    auth = f'PREFECT_API_AUTH_STRING="$(cat {shlex.quote(str(auth_file))})" ' if auth_file else ""
    plain = shlex.join([str(bin_dir / "prefect"), "worker", "start", "--pool", pool])
    lines = [
        "start a worker (leave it running):",
        f"  {allowed}{shlex.join([str(bin_dir / 'docflow'), 'worker', 'start', '--pool', pool])}",
        "or with Prefect's own command:",
        f"  PREFECT_API_URL={shlex.quote(api_url)} {auth}{allowed}{plain}",
    ]
    if not roots:
        lines.append("(runs started through the API also need DOCFLOW_ALLOWED_ROOTS in the worker's "
                     "environment: the directories they may read and write)")
    return "\n".join(lines)


def managed_auth_file(home: Path, info) -> Path | None:
    from docflow.server import auth_file

    return auth_file(home) if info.managed and auth_file(home).exists() else None


def worker(args: argparse.Namespace, settings) -> int:
    from docflow.cli.exits import EXIT_FAILED

    info = _api(settings)
    if info is None:
        return EXIT_FAILED
    print(f"docflow: worker for pool {args.pool} on PREFECT_API_URL={info.url}", file=sys.stderr, flush=True)
    argv = worker_argv(args.pool)
    os.execve(argv[0], argv, {**os.environ, "PREFECT_API_URL": info.url})


def trigger(args: argparse.Namespace, settings) -> int:
    from docflow.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE

    spec = get(args.deployment)
    info = _api(settings)
    if info is None:
        return EXIT_FAILED
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    try:
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name(spec.full_name)
    except ObjectNotFound:
        print(f"docflow: {spec.full_name} is not deployed on {info.url}; run `docflow deploy`",
              file=sys.stderr)
        return EXIT_FAILED
    try:
        parameters = parse_params(args.param, deployment.parameter_openapi_schema or {})
        flow_run = run_deployment(
            deployment.id,
            parameters=parameters,
            timeout=None if args.wait else 0,
            poll_interval=2,
            as_subflow=False,
        )
    except ParamError as exc:
        print(f"docflow: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PrefectHTTPStatusError as exc:
        print(f"docflow: the server refused the run: {_detail(exc)}", file=sys.stderr)
        return EXIT_USAGE
    state = flow_run.state.type.value if flow_run.state else "UNKNOWN"
    url = f"{info.url.removesuffix('/api')}/runs/flow-run/{flow_run.id}"
    payload = {"flow_run_id": str(flow_run.id), "name": flow_run.name, "state": state, "url": url}
    if args.json:
        print(json.dumps(payload, sort_keys=True))
    else:
        print(f"flow run {flow_run.name} ({flow_run.id}): {state}\n{url}")
    return EXIT_FAILED if args.wait and state != "COMPLETED" else EXIT_OK


def parse_params(pairs: list[str], schema: dict) -> dict[str, Any]:
    """KEY=VALUE pairs typed by the parameter schema: text for string parameters, items for
    list parameters (a JSON list, or one item per repeated key), JSON for everything else."""
    properties = schema.get("properties", {})
    parameters: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ParamError(f"--param {pair!r}: expected KEY=VALUE")
        if key not in properties:
            raise ParamError(f"unknown parameter {key!r}; this deployment takes: {', '.join(properties)}")
        prop = properties[key]
        if "array" in _types(prop):
            value = _json(raw) if raw.startswith("[") else [_typed(raw, _items(prop))]
            parameters.setdefault(key, []).extend(value if isinstance(value, list) else [value])
        elif key in parameters:
            raise ParamError(f"--param {key} given twice")
        else:
            parameters[key] = _typed(raw, prop)
    return parameters


def _types(prop: dict) -> set[str]:
    found = {prop["type"]} if isinstance(prop.get("type"), str) else set()
    if "$ref" in prop or "allOf" in prop:
        found.add("object")  # a pydantic model, e.g. retry_policies
    for option in prop.get("anyOf", []):
        found |= _types(option)
    return found


def _items(prop: dict) -> dict:
    if "items" in prop:
        return prop["items"]
    return next((o["items"] for o in prop.get("anyOf", []) if "items" in o), {})


def _typed(raw: str, prop: dict) -> Any:
    types = _types(prop)
    if "string" in types and not types & {"integer", "number", "boolean", "array", "object"}:
        return raw
    return _json(raw)


def _json(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # the server names the field if text is not acceptable here


def _detail(exc) -> str:
    try:
        return str(exc.response.json().get("detail", exc))
    except ValueError:
        return str(exc)


def _api(settings):
    from docflow.server import ensure_api

    try:
        return ensure_api(settings.home)
    except RuntimeError as exc:
        print(f"docflow: no Prefect API: {exc}", file=sys.stderr)
        return None
