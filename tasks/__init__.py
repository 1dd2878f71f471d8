"""Pipeline stages as plain functions (discover, parse, chunk, embed, store, ledger), the error
taxonomy and retry policies, plus the thin Prefect task shell in tasks.process.

Dependency direction: flows -> tasks -> docflow.settings/docflow.models; nothing here imports
flows, and only tasks.process imports Prefect's task decorator."""

import docflow  # noqa: F401  (offline environment before any third-party import)
