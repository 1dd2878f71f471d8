"""Storage credentials never travel in task payloads.

A batch's context goes through the Dask scheduler to whichever workers are connected to it, and
the scheduler is whatever the caller's `address` names. So the target that is submitted names
where its storage options come from instead of carrying them, and each worker reads them from
its own side: the named target block (loaded from the Prefect API the worker reports to) or its
own DOCFLOW_STORAGE_OPTIONS (blocks/worker_credentials.py). A worker without them falls back to
its AWS_* environment, as the stores and s3fs do without options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from docflow.core.models import Target
from docflow.core.settings import DocflowSettings

FROM_ENVIRONMENT = "env"
BLOCK_PREFIX = "block:"


def for_workers(target: Target, settings: DocflowSettings) -> Target:
    """`target` without its secrets, naming where a worker finds them."""
    if not target.storage_options:
        return target
    source = f"{BLOCK_PREFIX}{settings.storage_block}" if settings.storage_block else FROM_ENVIRONMENT
    return replace(target, storage_options=(), credentials=source)


# Object-store option names as settings and blocks carry them -> s3fs's, for fsspec users
# (the checkpoints, remote sources) of the same bucket.
_S3FS_NAMES = {
    "aws_access_key_id": "key",
    "access_key_id": "key",
    "aws_secret_access_key": "secret",
    "secret_access_key": "secret",
    "aws_session_token": "token",
    "session_token": "token",
    "aws_endpoint": "endpoint_url",
    "endpoint": "endpoint_url",
    "aws_endpoint_url": "endpoint_url",
    "endpoint_url": "endpoint_url",
}
_S3FS_REGION_NAMES = ("aws_region", "region")


def fsspec_options(uri: str, storage_options: Mapping[str, str]) -> dict:
    """The same credentials for fsspec (s3fs), which names them differently. Other schemes get
    none: their file systems read the environment, as the stores do without options."""
    if not storage_options or not uri.startswith(("s3://", "s3a://")):
        return {}
    options: dict = {}
    for name, value in storage_options.items():
        key = name.lower()
        if key in _S3FS_NAMES:
            options[_S3FS_NAMES[key]] = value
        elif key in _S3FS_REGION_NAMES:
            options.setdefault("client_kwargs", {})["region_name"] = value
    return options
