"""Prefect task shells only: each wraps a function of `docflow.core` with Prefect's task options
(retries, retry conditions, caching). The work itself lives in docflow.core."""

import docflow  # noqa: F401  (offline environment before any third-party import)
