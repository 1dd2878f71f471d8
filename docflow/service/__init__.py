"""What the docflow command calls: runs (ingest, sync, export) and questions about a table
(status, verify, search, exports, import, recent runs). The CLI parses arguments, builds the
settings once and prints; everything it does goes through here, never through flows' or the
pipeline's internals."""

from __future__ import annotations

from typing import Any

from docflow.core.settings import DocflowSettings


def settings_from(values: dict[str, Any]) -> DocflowSettings:
    """A command's settings, built once: the values over DOCFLOW_* variables over defaults,
    with the store named and its default database filled in (an unknown store fails here)."""
    from docflow.adapters.stores import with_store_defaults

    return with_store_defaults(DocflowSettings(**values))
