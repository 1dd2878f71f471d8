"""moto's S3 server on a free loopback port: a real HTTP S3 API for the object-store tests and
the scale benchmark's object-store mode."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MOTO = str(Path(sys.executable).parent / "moto_server")
KEY, SECRET, REGION = "docflow", "docflow-secret", "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    env: dict[str, str]

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=KEY, aws_secret_access_key=SECRET)

    def filesystem(self):
        import s3fs

        return s3fs.S3FileSystem(key=KEY, secret=SECRET, skip_instance_cache=True,
                                 client_kwargs={"endpoint_url": self.endpoint, "region_name": REGION})


@contextmanager
def moto_s3(bucket: str = "docflow", log: IO | None = None) -> Iterator[S3Server]:
    """`log` receives moto's access log (one line per request), e.g. to count GETs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    output = log or subprocess.DEVNULL
    server = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)], stdout=output, stderr=output)
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,  # botocore / s3fs (checkpoints, sources)
        "AWS_ENDPOINT": endpoint, "AWS_ALLOW_HTTP": "true",  # LanceDB's object store
    }
    s3 = S3Server(endpoint, env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                s3.client().create_bucket(Bucket=bucket)
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield s3
    finally:
        server.terminate()
        server.wait(timeout=20)


_REQUEST = re.compile(r'"GET (/[^ ?"]*)(\?[^ "]*)? HTTP')


def object_gets(log_path: Path, offset: int, bucket: str, prefix: str) -> int:
    """GET requests for object bodies under `prefix` in moto's access log from `offset` on
    (listings are GETs of the bucket with a query; a body is a GET of the object's path)."""
    with open(log_path) as handle:
        handle.seek(offset)
        text = handle.read()
    wanted = f"/{bucket}/{prefix}"
    return sum(1 for path, _query in _REQUEST.findall(text) if path.startswith(wanted))
