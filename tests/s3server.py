"""moto's S3 server on loopback: a real HTTP S3 API (not a mock object) with one bucket,
`docflow`, for the object-store tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MOTO = str(Path(sys.executable).parent / "moto_server")
BUCKET = "docflow"
KEY, SECRET, REGION = "docflow", "docflow-secret", "us-east-1"


@contextmanager
def moto_s3() -> Iterator[dict[str, str]]:
    """The environment that points boto3, s3fs and LanceDB at the server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,  # botocore / s3fs
        "AWS_ENDPOINT": endpoint, "AWS_ALLOW_HTTP": "true",  # LanceDB's object store
    }
    try:
        _create_bucket(endpoint)
        yield env
    finally:
        server.terminate()
        server.wait(timeout=20)


def _create_bucket(endpoint: str) -> None:
    import boto3

    deadline = time.monotonic() + 30
    while True:
        try:
            boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                         aws_access_key_id=KEY, aws_secret_access_key=SECRET).create_bucket(Bucket=BUCKET)
            return
        except Exception:  # noqa: BLE001 - the server is still starting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
