import re

from docflow.core.models import DocOutcome, DocRef, DocStatus, ErrorClass
from docflow.adapters.checkpoints import checkpoint
from docflow.adapters.checkpoints.checkpoint import PrefectCheckpoints
from docflow.ports.checkpoints import Checkpoints
from tests.s3server import moto_s3


def doc(doc_id: str, fingerprint: str) -> DocRef:
    return DocRef(doc_id, f"/src/{doc_id}", "/src", 10, 0, "c" * 64, fingerprint, "txt")


def stored(directory, generation: str, d: DocRef) -> dict:
    """The record as Prefect's result store reads it back (a new store, as a new run has)."""
    return checkpoint.open_store(str(directory)).read(checkpoint.checkpoint_key(generation, d)).result


def test_a_recorded_document_is_finished_for_its_generation_and_fingerprint_only(tmp_path):
    gen1 = PrefectCheckpoints(str(tmp_path), "gen1")
    assert isinstance(gen1, Checkpoints)
    a, b = doc("a.txt", "f1"), doc("b.txt", "f1")
    gen1.record(a, DocOutcome("a.txt", "f1", DocStatus.DONE, chunk_count=3), "run1")
    assert gen1.finished([a, b]) == {"a.txt"}
    assert PrefectCheckpoints(str(tmp_path), "gen2").finished([a]) == set()
    assert gen1.finished([doc("a.txt", "f2")]) == set()
    assert stored(tmp_path, "gen1", a)["chunk_count"] == 3


def test_records_are_prefect_result_records_readable_by_a_new_store(tmp_path):
    outcome = DocOutcome("a.txt", "f1", DocStatus.FAILED, error_class=ErrorClass.PARSE, error_message="bad")
    PrefectCheckpoints(str(tmp_path), "g").record(doc("a.txt", "f1"), outcome, "run1")
    record = stored(tmp_path, "g", doc("a.txt", "f1"))
    assert record["status"] == "failed" and record["error_class"] == "parse" and record["run_id"] == "run1"
    assert (tmp_path / "keys").is_dir() and (tmp_path / "results").is_dir()


def test_a_torn_record_counts_as_not_finished(tmp_path):
    cps = PrefectCheckpoints(str(tmp_path), "g")
    a = doc("a.txt", "f1")
    cps.record(a, DocOutcome("a.txt", "f1", DocStatus.DONE), "r")
    key_file = tmp_path / "keys" / checkpoint.checkpoint_key("g", a)
    key_file.write_bytes(key_file.read_bytes()[:10])  # what a kill -9 mid-write leaves
    assert cps.finished([a]) == set()


def test_forget_removes_every_version_of_a_document_only(tmp_path):
    cps = PrefectCheckpoints(str(tmp_path), "g")
    v1, v2, other = doc("a.txt", "f1"), doc("a.txt", "f2"), doc("b.txt", "f1")
    for d in (v1, v2, other):
        cps.record(d, DocOutcome(d.doc_id, d.fingerprint, DocStatus.DONE), "r")
    cps.forget(["a.txt"])
    assert cps.finished([v1]) == set()
    assert cps.finished([v2]) == set()
    assert cps.finished([other]) == {"b.txt"}
    cps.forget(["never-recorded.txt"])


def test_a_listing_of_the_shards_answers_like_one_read_per_document(tmp_path):
    cps = PrefectCheckpoints(str(tmp_path), "g")
    recorded = [doc(f"d{i}.txt", f"f{i}") for i in range(40)]
    for d in recorded:
        cps.record(d, DocOutcome(d.doc_id, d.fingerprint, DocStatus.DONE), "r")
    cps.forget(["d3.txt"])
    asked = [*recorded, doc("d0.txt", "newer"), doc("never.txt", "f1")]
    expected = cps.finished(asked)
    assert expected == {d.doc_id for d in recorded} - {"d3.txt"}
    assert cps.finished_listed(asked) == expected
    assert PrefectCheckpoints(str(tmp_path), "other-generation").finished_listed(asked) == set()
    assert PrefectCheckpoints(str(tmp_path / "nothing-yet"), "g").finished_listed(asked) == set()


def test_a_listed_key_file_left_empty_by_a_kill_counts_as_not_finished(tmp_path):
    cps = PrefectCheckpoints(str(tmp_path), "g")
    a, b = doc("a.txt", "f1"), doc("b.txt", "f1")
    for d in (a, b):
        cps.record(d, DocOutcome(d.doc_id, d.fingerprint, DocStatus.DONE), "r")
    (tmp_path / "keys" / checkpoint.checkpoint_key("g", a)).write_bytes(b"")  # killed after open()
    assert cps.finished_listed([a, b]) == {"b.txt"}
    assert cps.finished([a, b]) == {"b.txt"}


def test_the_shards_of_an_object_store_are_listed_not_read(tmp_path):
    with open(tmp_path / "moto.log", "w") as log, moto_s3(log=log) as env:
        options = {"aws_access_key_id": "docflow", "aws_secret_access_key": "docflow-secret",
                   "aws_region": "us-east-1", "aws_endpoint": env["AWS_ENDPOINT_URL"], "allow_http": "true"}
        where = "s3://docflow/checkpoints"
        cps = PrefectCheckpoints(where, "g", options)
        docs = [doc(f"d{i}.txt", "f1") for i in range(5)]
        for d in docs[:3]:
            cps.record(d, DocOutcome(d.doc_id, d.fingerprint, DocStatus.DONE), "r")
        before = (tmp_path / "moto.log").read_text()
        assert cps.finished_listed(docs) == {"d0.txt", "d1.txt", "d2.txt"}
        requests = (tmp_path / "moto.log").read_text()[len(before):]
    paths = re.findall(r'"(?:GET|HEAD) (\S+) HTTP', requests)
    # A listing per shard (s3fs probes an empty shard's prefix twice more): nothing per document.
    assert len(checkpoint.SHARDS) <= len(paths) <= 3 * len(checkpoint.SHARDS)
    assert not [p for p in paths if re.search(r"[0-9a-f]{64}", p)]
