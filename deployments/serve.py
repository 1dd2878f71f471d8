"""Serve every deployment from one process: for people without a work pool or worker.

    python -m deployments.serve [--only NAME ...]

The deployments get the registry's names, schedules, tags and concurrency limits, so the UI,
schedules, Retry and `docflow trigger` work the same as with `docflow deploy` and a worker;
each flow run executes in a subprocess of this one. Ctrl-C stops serving and pauses the
schedules. Uses the configured Prefect API, else the docflow-managed local server."""

from __future__ import annotations

import argparse
import os

from deployments.prefect_yaml import REPO_ROOT
from deployments.registry import DEPLOYMENTS, DeploymentSpec, names
from deployments.schema import strict_model


def runner_deployment(spec: DeploymentSpec):
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.flows import load_flow_from_entrypoint
    from prefect.schedules import Cron

    flow = load_flow_from_entrypoint(spec.entrypoint)
    schedules = None
    if spec.schedule is not None:
        schedules = [
            Cron(spec.schedule.cron, timezone=spec.schedule.timezone, active=spec.schedule.active)
        ]
    limit = None
    if spec.concurrency_limit is not None:
        limit = ConcurrencyLimitConfig(
            limit=spec.concurrency_limit,
            collision_strategy=ConcurrencyLimitStrategy(spec.collision_strategy),
        )
    deployment = flow.to_deployment(
        name=spec.name,
        description=spec.description,
        tags=list(spec.tags),
        schedules=schedules,
        concurrency_limit=limit,
    )
    deployment._parameter_openapi_schema = strict_model(deployment._parameter_openapi_schema, spec)
    return deployment


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deployments.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=names(), help="serve only this deployment")
    args = parser.parse_args(argv)
    specs = [spec for spec in DEPLOYMENTS if not args.only or spec.name in args.only]

    from docflow.server import ensure_api
    from docflow.core.settings import DocflowSettings

    ensure_api(DocflowSettings().home)  # before Prefect reads its settings
    os.chdir(REPO_ROOT)  # entrypoints are relative to the clone's root

    from prefect import serve

    serve(*[runner_deployment(spec) for spec in specs])


if __name__ == "__main__":
    main()
