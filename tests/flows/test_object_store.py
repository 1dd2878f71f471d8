"""LanceDB and the checkpoint store on an S3-compatible object store: moto's server mode on
loopback (a real HTTP S3 API, not a mock object), driven through the CLI.

One server for the module, each test under its own keys; the runs of the first two go by
address to a cluster whose workers find the bucket through the same AWS_* variables as the CLI.
The test of storage options alone and the GET-counting sync test (its own server and access
log) keep the default local cluster."""

import json
import os

import pytest

from tests import docbuilders as b
from tests.conftest import run_cli
from tests.daskcluster import dask_cluster
from tests.s3server import client as s3_client
from tests.s3server import moto_s3, object_gets

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def s3(prefect_api):
    with moto_s3() as env:
        yield env


@pytest.fixture(scope="module")
def s3_cluster(s3, tmp_path_factory):
    with dask_cluster(tmp_path_factory.mktemp("s3-dask"), env=s3) as (address, _):
        yield address


@pytest.fixture
def s3_cli(s3, s3_cluster):
    """The CLI with the bucket's variables, its runs on the module's cluster."""

    def run(*args: str, env: dict | None = None):
        return run_cli(*args, env={**s3, "DOCFLOW_ADDRESS": s3_cluster, **(env or {})})

    return run


def test_ingest_rerun_search_and_verify_on_s3(s3_cli, s3, tmp_path):
    src = tmp_path / "src"
    docs = b.make_corpus(src, 6, kinds=("txt", "md", "html"))
    db = "s3://docflow/lancedb"

    def run(*args):
        result = s3_cli(*args, "--json")
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout)

    first = run("ingest", str(src), "--db", db)
    assert (first["documents_processed"], first["documents_failed"]) == (6, 0)
    again = run("ingest", str(src), "--db", db)
    assert (again["documents_processed"], again["documents_skipped"]) == (0, 6)
    b.make_txt(docs[0], topic="Object storage edit", n=1)
    third = run("ingest", str(src), "--db", db)
    assert third["documents_processed"] == 1
    report = run("verify", "--db", db, "--source", str(src))
    assert report["consistent"] and report["documents"] == 6
    hits = run("search", "Object storage edit", "--db", db, "-k", "1")["hits"]
    assert hits[0]["doc_id"] == docs[0].name

    import s3fs

    fs = s3fs.S3FileSystem(key="docflow", secret="docflow-secret",
                           client_kwargs={"endpoint_url": s3["AWS_ENDPOINT_URL"], "region_name": "us-east-1"})
    assert fs.ls("docflow/lancedb/_docflow/checkpoints/chunks"), "checkpoints live in the bucket"


def test_documents_listed_from_an_s3_prefix(s3_cli, s3, tmp_path):
    import boto3

    local = b.make_corpus(tmp_path / "src", 3, kinds=("txt", "md", "html"))
    client = boto3.client("s3", endpoint_url=s3["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="docflow", aws_secret_access_key="docflow-secret")
    for path in local:
        client.put_object(Bucket="docflow", Key=f"docs/sub/{path.name}", Body=path.read_bytes())
    db = str(tmp_path / "db")

    def run(*args):
        result = s3_cli(*args, "--json")
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout)

    first = run("ingest", "s3://docflow/docs", "--db", db)
    assert (first["documents_processed"], first["documents_failed"]) == (3, 0)
    assert run("ingest", "s3://docflow/docs", "--db", db)["documents_skipped"] == 3
    client.delete_object(Bucket="docflow", Key=f"docs/sub/{local[0].name}")
    synced = run("sync", "s3://docflow/docs", "--db", db, "--allow-mass-delete")
    assert synced["documents_deleted"] == 1
    status = run("status", "--db", db)
    assert status["counts"]["done"] == 2


def test_credentials_from_storage_options_alone(cli, s3, tmp_path):
    """No AWS_* variable anywhere: keys, region and endpoint come only from the storage options
    (what a target block carries), for LanceDB, the checkpoints and the Dask workers."""
    src = tmp_path / "src"
    b.make_corpus(src, 4, kinds=("txt", "md"))
    options = {"aws_access_key_id": "docflow", "aws_secret_access_key": "docflow-secret",
               "aws_region": "us-east-1", "aws_endpoint": s3["AWS_ENDPOINT_URL"], "allow_http": "true"}
    env = {"DOCFLOW_STORAGE_OPTIONS": json.dumps(options)}
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT", "AWS_ENDPOINT_URL",
                "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"} & set(os.environ)
    db = "s3://docflow/options-db"

    def run(*args):
        result = cli(*args, "--json", env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout)

    assert run("ingest", str(src), "--db", db)["documents_processed"] == 4
    assert run("ingest", str(src), "--db", db)["documents_skipped"] == 4
    assert run("verify", "--db", db, "--source", str(src))["consistent"]
    assert run("search", "Topic", "--db", db, "-k", "1")["hits"]
    assert run("export", "--out", str(tmp_path / "snap"), "--db", db)["rows"] > 0


def test_a_sync_of_an_s3_prefix_fetches_only_the_changed_objects(cli, tmp_path):
    """The listing's ETags decide what to fetch: a no-op sync GETs no object body, a changed
    object is fetched exactly once (by the worker that parses it), and an object re-uploaded
    with identical bytes keeps its ETag and is neither fetched nor reprocessed."""
    log_path = tmp_path / "moto.log"
    with open(log_path, "w") as log, moto_s3(log=log) as env:
        client = s3_client(env)
        local = b.make_corpus(tmp_path / "src", 4, kinds=("txt", "md"))
        for path in local:
            client.put_object(Bucket="docflow", Key=f"docs/{path.name}", Body=path.read_bytes())
        db = str(tmp_path / "db")

        def sync(*extra):
            mark = log_path.stat().st_size
            result = cli("sync", "s3://docflow/docs", "--db", db, "--json", *extra, env=env)
            assert result.returncode == 0, result.stderr[-3000:]
            return json.loads(result.stdout), object_gets(log_path, mark, "docflow", "docs/")

        first, gets = sync()
        assert first["documents_processed"] == 4 and gets == 4
        idle, gets = sync()
        assert (idle["documents_processed"], idle["documents_skipped"], gets) == (0, 4, 0)
        b.make_txt(local[0], topic="Changed in the bucket", n=2)
        client.put_object(Bucket="docflow", Key=f"docs/{local[0].name}", Body=local[0].read_bytes())
        client.put_object(Bucket="docflow", Key=f"docs/{local[1].name}", Body=local[1].read_bytes())
        changed, gets = sync()
        assert (changed["documents_processed"], changed["documents_skipped"], gets) == (1, 3, 1)
        rehashed, gets = sync("--rehash")
        assert (rehashed["documents_processed"], gets) == (0, 4)
