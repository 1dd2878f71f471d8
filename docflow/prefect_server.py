"""`prefect server start` for the docflow-managed server, with SQLite write transactions that
wait for each other instead of failing.

Prefect begins its SQLite transactions DEFERRED (IMMEDIATE only when a caller asks for a row
lock). Two create_flow_run calls at the same instant then both read, both try to upgrade to a
write, and SQLite refuses one at once with "database is locked", which the server returns as
HTTP 503: busy_timeout (60 s) and WAL, both already set by Prefect, do not help, because SQLite
does not wait when waiting could deadlock. Beginning every transaction IMMEDIATE takes the
write lock first, so the second call waits (up to busy_timeout) and succeeds. Only the
docflow-managed local server runs this way; a server backed by PostgreSQL is unaffected.

    python -m docflow.prefect_server server start --host 127.0.0.1 --port PORT
"""

from __future__ import annotations

from contextlib import asynccontextmanager


def begin_immediately() -> None:
    from prefect.server.database.configurations import AioSqliteConfiguration

    deferred = AioSqliteConfiguration.begin_transaction

    @asynccontextmanager
    async def begin_transaction(self, session, with_for_update: bool = False):
        async with deferred(self, session, with_for_update=True) as transaction:
            yield transaction

    AioSqliteConfiguration.begin_transaction = begin_transaction


if __name__ == "__main__":
    begin_immediately()
    from prefect.cli import app

    app()
