import re

from docflow.core.models import DocOutcome, DocRef, DocStatus, ErrorClass
from docflow.adapters.checkpoints import checkpoint
from tests.s3server import moto_s3


def doc(doc_id: str, fingerprint: str) -> DocRef:
    return DocRef(doc_id, f"/src/{doc_id}", "/src", 10, 0, "c" * 64, fingerprint, "txt")


def test_a_recorded_document_is_finished_for_its_generation_and_fingerprint_only(tmp_path):
    store = checkpoint.open_store(str(tmp_path))
    a, b = doc("a.txt", "f1"), doc("b.txt", "f1")
    checkpoint.record(store, "gen1", a, DocOutcome("a.txt", "f1", DocStatus.DONE, chunk_count=3), "run1")
    assert checkpoint.finished(store, "gen1", [a, b]) == {"a.txt"}
    assert checkpoint.finished(store, "gen2", [a]) == set()
    assert checkpoint.finished(store, "gen1", [doc("a.txt", "f2")]) == set()
    assert checkpoint.read(store, "gen1", a)["chunk_count"] == 3


def test_records_are_prefect_result_records_readable_by_a_new_store(tmp_path):
    outcome = DocOutcome("a.txt", "f1", DocStatus.FAILED, error_class=ErrorClass.PARSE, error_message="bad")
    checkpoint.record(checkpoint.open_store(str(tmp_path)), "g", doc("a.txt", "f1"), outcome, "run1")
    record = checkpoint.read(checkpoint.open_store(str(tmp_path)), "g", doc("a.txt", "f1"))
    assert record["status"] == "failed" and record["error_class"] == "parse" and record["run_id"] == "run1"
    assert (tmp_path / "keys").is_dir() and (tmp_path / "results").is_dir()


def test_a_torn_record_counts_as_not_finished(tmp_path):
    store = checkpoint.open_store(str(tmp_path))
    a = doc("a.txt", "f1")
    checkpoint.record(store, "g", a, DocOutcome("a.txt", "f1", DocStatus.DONE), "r")
    key_file = tmp_path / "keys" / checkpoint.checkpoint_key("g", a)
    key_file.write_bytes(key_file.read_bytes()[:10])  # what a kill -9 mid-write leaves
    assert checkpoint.finished(store, "g", [a]) == set()


def test_forget_removes_every_version_of_a_document_only(tmp_path):
    store = checkpoint.open_store(str(tmp_path))
    v1, v2, other = doc("a.txt", "f1"), doc("a.txt", "f2"), doc("b.txt", "f1")
    for d in (v1, v2, other):
        checkpoint.record(store, "g", d, DocOutcome(d.doc_id, d.fingerprint, DocStatus.DONE), "r")
    checkpoint.forget(str(tmp_path), "g", ["a.txt"])
    assert checkpoint.finished(store, "g", [v1]) == set()
    assert checkpoint.finished(store, "g", [v2]) == set()
    assert checkpoint.finished(store, "g", [other]) == {"b.txt"}
    checkpoint.forget(str(tmp_path), "g", ["never-recorded.txt"])


def test_a_listing_of_the_shards_answers_like_one_read_per_document(tmp_path):
    store = checkpoint.open_store(str(tmp_path))
    recorded = [doc(f"d{i}.txt", f"f{i}") for i in range(40)]
    for d in recorded:
        checkpoint.record(store, "g", d, DocOutcome(d.doc_id, d.fingerprint, DocStatus.DONE), "r")
    checkpoint.forget(str(tmp_path), "g", ["d3.txt"])
    asked = [*recorded, doc("d0.txt", "newer"), doc("never.txt", "f1")]
    expected = checkpoint.finished(store, "g", asked)
    assert expected == {d.doc_id for d in recorded} - {"d3.txt"}
    assert checkpoint.finished_listed(str(tmp_path), "g", asked) == expected
    assert checkpoint.finished_listed(str(tmp_path), "other-generation", asked) == set()
    assert checkpoint.finished_listed(str(tmp_path / "nothing-yet"), "g", asked) == set()


def test_a_listed_key_file_left_empty_by_a_kill_counts_as_not_finished(tmp_path):
    store = checkpoint.open_store(str(tmp_path))
    a, b = doc("a.txt", "f1"), doc("b.txt", "f1")
    for d in (a, b):
        checkpoint.record(store, "g", d, DocOutcome(d.doc_id, d.fingerprint, DocStatus.DONE), "r")
    (tmp_path / "keys" / checkpoint.checkpoint_key("g", a)).write_bytes(b"")  # killed after open()
    assert checkpoint.finished_listed(str(tmp_path), "g", [a, b]) == {"b.txt"}
    assert checkpoint.finished(store, "g", [a, b]) == {"b.txt"}


def test_the_shards_of_an_object_store_are_listed_not_read(tmp_path):
    with open(tmp_path / "moto.log", "w") as log, moto_s3(log=log) as env:
        options = {"aws_access_key_id": "docflow", "aws_secret_access_key": "docflow-secret",
                   "aws_region": "us-east-1", "aws_endpoint": env["AWS_ENDPOINT_URL"], "allow_http": "true"}
        where = "s3://docflow/checkpoints"
        store = checkpoint.open_store(where, options)
        docs = [doc(f"d{i}.txt", "f1") for i in range(5)]
        for d in docs[:3]:
            checkpoint.record(store, "g", d, DocOutcome(d.doc_id, d.fingerprint, DocStatus.DONE), "r")
        before = (tmp_path / "moto.log").read_text()
        assert checkpoint.finished_listed(where, "g", docs, options) == {"d0.txt", "d1.txt", "d2.txt"}
        requests = (tmp_path / "moto.log").read_text()[len(before):]
    paths = re.findall(r'"(?:GET|HEAD) (\S+) HTTP', requests)
    # A listing per shard (s3fs probes an empty shard's prefix twice more): nothing per document.
    assert len(checkpoint.SHARDS) <= len(paths) <= 3 * len(checkpoint.SHARDS)
    assert not [p for p in paths if re.search(r"[0-9a-f]{64}", p)]
