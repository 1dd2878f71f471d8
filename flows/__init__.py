"""Prefect flows: thin orchestration over the stage functions in tasks/."""

import docflow  # noqa: F401
