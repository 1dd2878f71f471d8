"""Infrastructure faults end as classified system/transient errors with what to do, never as a
document's parse error or a traceback: a corrupt newest table manifest (LanceDB keeps the
previous version) and an object store that does not answer."""

import json

import pytest

from docflow.adapters.stores.lancedb.damage import _manifest_version
from tests import docbuilders as b

pytestmark = pytest.mark.e2e


def test_a_corrupt_newest_manifest_names_the_version_and_the_way_back(warm_cli, tmp_path):
    src, db = tmp_path / "src", tmp_path / "db"
    docs = b.make_corpus(src, 3)
    first = warm_cli("ingest", str(src), "--db", str(db), "--json")
    assert first.returncode == 0, first.stderr[-3000:]
    newest = max((db / "chunks.lance" / "_versions").glob("*.manifest"), key=_manifest_version)
    newest.write_bytes(b"not a manifest" * 4)

    for command in (["verify", "--db", str(db)], ["status", "--db", str(db)], ["ingest", str(src), "--db", str(db)]):
        result = warm_cli(*command)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        assert "system error" in result.stderr and "parse error" not in result.stderr, result.stderr[-3000:]
        assert f"version {_manifest_version(newest)} cannot be read" in result.stderr, result.stderr[-3000:]
        assert f"mv '{newest}' '{newest}.corrupt'" in result.stderr

    newest.rename(f"{newest}.corrupt")  # what every message said to do
    report = warm_cli("verify", "--db", str(db), "--source", str(src), "--json")
    assert report.returncode == 0, report.stdout + report.stderr[-3000:]
    assert json.loads(report.stdout)["documents"] == len(docs)


def test_an_unreachable_object_store_is_transient_not_a_parse_error(warm_cli, tmp_path):
    src = tmp_path / "src"
    b.make_corpus(src, 1)
    options = {"aws_access_key_id": "k", "aws_secret_access_key": "s", "aws_region": "us-east-1",
               "aws_endpoint": "http://127.0.0.1:9", "allow_http": "true"}  # nothing listens on port 9
    result = warm_cli("ingest", str(src), "--db", "s3://bucket/db", "--json",
                      env={"DOCFLOW_STORAGE_OPTIONS": json.dumps(options)})
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    reason = json.loads(result.stdout)["reason"]
    assert reason.startswith("transient error") and "Failed to connect" in reason, reason
