"""Storage credentials stay off the wire: a batch names where its worker finds them.

The end-to-end test runs the flow on a real `dask scheduler` whose workers record every frame
they receive (a preload patching distributed's TCP reader, compression off as by default): the
secret never arrives, while the batch context itself (the database URI) does."""

import json
import os
import textwrap

import pytest

from blocks import StoreTarget
from docflow.core.models import Target
from docflow.core.settings import DocflowSettings
from docflow.core.summary import discrepancies
from blocks import worker_credentials
from docflow.core import credentials
from tests import docbuilders as b
from tests.daskcluster import dask_cluster
from tests.s3server import KEY, REGION, SECRET, moto_s3

OPTIONS = {"aws_access_key_id": KEY, "aws_secret_access_key": SECRET, "aws_region": REGION, "allow_http": "true"}


def test_the_submitted_target_carries_no_secret_and_a_worker_restores_it(monkeypatch):
    target = Target("s3://b/db", "chunks", "s3://b/db/_docflow/checkpoints/chunks", tuple(sorted(OPTIONS.items())))
    sent = credentials.for_workers(target, DocflowSettings(storage_options=OPTIONS))
    assert (sent.storage_options, sent.credentials) == ((), "env") and SECRET not in repr(sent.__dict__)
    assert credentials.for_workers(target, DocflowSettings(storage_block="prod")).credentials == "block:prod"
    monkeypatch.setenv("DOCFLOW_STORAGE_OPTIONS", json.dumps(OPTIONS))
    assert worker_credentials.on_worker(sent, "run-1").options == OPTIONS
    plain = Target("/db", "chunks", "/db/cp")
    assert credentials.for_workers(plain, DocflowSettings()) is plain


RECORDER = textwrap.dedent('''
    """Dask worker preload: append every frame the worker reads from the network to a file."""
    import os
    from distributed.comm import tcp

    _from_frames = getattr(tcp.from_frames, "original", tcp.from_frames)  # loaded more than once

    async def _recording(frames, *args, **kwargs):
        with open(os.environ["PAYLOAD_LOG"], "ab") as log:
            for frame in frames:
                log.write(bytes(frame))
        return await _from_frames(frames, *args, **kwargs)

    _recording.original = _from_frames
    tcp.from_frames = _recording
''')


@pytest.mark.e2e
@pytest.mark.parametrize("source", ["environment", "block"])
def test_the_secret_never_reaches_the_workers(source, prefect_api, tmp_path):
    from flows.ingest import ingest

    with moto_s3() as s3:
        _ingest_and_record(source, {**OPTIONS, "aws_endpoint": s3["AWS_ENDPOINT_URL"]}, tmp_path, ingest)


def _ingest_and_record(source: str, options: dict, tmp_path, ingest) -> None:
    src, log, preload = tmp_path / "src", tmp_path / "payloads.bin", tmp_path / "record_payloads.py"
    b.make_corpus(src, 3, kinds=("txt", "md"))
    preload.write_text(RECORDER)
    db = f"s3://docflow/{source}-db"
    worker_env = {"PAYLOAD_LOG": str(log)}
    parameters = {"paths": [str(src)], "db": db}
    if source == "environment":
        worker_env["DOCFLOW_STORAGE_OPTIONS"] = json.dumps(options)
        os.environ["DOCFLOW_STORAGE_OPTIONS"] = json.dumps(options)  # the flow's own settings
    else:
        StoreTarget(uri=db, storage_options=options).save("payload-target", overwrite=True)
        parameters["target"] = "payload-target"
    try:
        with dask_cluster(tmp_path / "dask", ("w1",), env=worker_env,
                          wrap_worker=lambda command: [*command, "--preload", str(preload)]) as (address, _):
            state = ingest(**parameters, address=address, return_state=True)
    finally:
        os.environ.pop("DOCFLOW_STORAGE_OPTIONS", None)
    summary = state.result()
    assert (summary["documents_processed"], summary["documents_failed"]) == (3, 0), summary
    assert not discrepancies(summary), discrepancies(summary)
    received = log.read_bytes()
    assert db.encode() in received, "the recorder saw no batch context"
    assert SECRET.encode() not in received


def test_storage_options_are_renamed_for_s3fs_and_kept_from_other_schemes():
    options = {"aws_access_key_id": "k", "aws_secret_access_key": "s", "aws_session_token": "t",
               "aws_endpoint": "http://127.0.0.1:9000", "aws_region": "eu-west-1", "allow_http": "true"}
    assert credentials.fsspec_options("s3://bucket/db", options) == {
        "key": "k", "secret": "s", "token": "t", "endpoint_url": "http://127.0.0.1:9000",
        "client_kwargs": {"region_name": "eu-west-1"},
    }
    assert credentials.fsspec_options("gs://bucket/db", options) == {}
    assert credentials.fsspec_options("s3://bucket/db", {}) == {}
