"""moto's S3 server on loopback: a real HTTP S3 API (not a mock object) with one bucket,
`docflow`, for the object-store tests."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

MOTO = str(Path(sys.executable).parent / "moto_server")
BUCKET = "docflow"
KEY, SECRET, REGION = "docflow", "docflow-secret", "us-east-1"


@contextmanager
def moto_s3(bucket: str = BUCKET, log: IO | None = None) -> Iterator[dict[str, str]]:
    """The environment that points boto3, s3fs and LanceDB at the server. `log` receives
    moto's access log, one line per request (see object_gets)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    output = log or subprocess.DEVNULL
    server = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)], stdout=output, stderr=output)
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,  # botocore / s3fs
        "AWS_ENDPOINT": endpoint, "AWS_ALLOW_HTTP": "true",  # LanceDB's object store
    }
    try:
        _create_bucket(endpoint, bucket)
        yield env
    finally:
        server.terminate()
        server.wait(timeout=20)


def client(env: dict[str, str]):
    """A boto3 S3 client for the server `env` points at."""
    import boto3

    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=REGION,
                        aws_access_key_id=KEY, aws_secret_access_key=SECRET)


def _create_bucket(endpoint: str, bucket: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            client({"AWS_ENDPOINT_URL": endpoint}).create_bucket(Bucket=bucket)
            return
        except Exception:  # noqa: BLE001 - the server is still starting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


_REQUEST = re.compile(r'"GET (/[^ ?"]*)(\?[^ "]*)? HTTP')


def object_gets(log_path: Path, offset: int, bucket: str, prefix: str) -> int:
    """GET requests for object bodies under `prefix` in moto's access log from `offset` on
    (listings are GETs of the bucket with a query; a body is a GET of the object's path)."""
    with open(log_path) as handle:
        handle.seek(offset)
        text = handle.read()
    wanted = f"/{bucket}/{prefix}"
    return sum(1 for path, _query in _REQUEST.findall(text) if path.startswith(wanted))
