"""Run Prefect's scheduler service once against a fresh server database and print how many
runs it created. Meant for a process of its own (`python -m tests.scheduler_probe DIR`): the
database URL must be in the environment before Prefect reads its settings."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta


async def scheduled_runs() -> int:
    from prefect.server import models, schemas
    from prefect.server.database import provide_database_interface
    from prefect.server.schemas.schedules import IntervalSchedule
    from prefect.server.services.scheduler import schedule_deployments

    db = provide_database_interface()
    await db.create_db()
    async with db.session_context(begin_transaction=True) as session:
        flow = await models.flows.create_flow(session=session, flow=schemas.core.Flow(name="probe"))
        schedule = schemas.core.DeploymentSchedule(schedule=IntervalSchedule(interval=timedelta(minutes=1)), active=True)
        await models.deployments.create_deployment(
            session=session,
            deployment=schemas.core.Deployment(name="probe", flow_id=flow.id, schedules=[schedule]),
        )
    await schedule_deployments()
    async with db.session_context() as session:
        runs = await models.flow_runs.read_flow_runs(session=session)
    return sum(run.auto_scheduled for run in runs)


if __name__ == "__main__":
    home = sys.argv[1]
    os.environ.update(
        PREFECT_HOME=home,
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home}/prefect.db",
    )
    print(asyncio.run(scheduled_runs()))
