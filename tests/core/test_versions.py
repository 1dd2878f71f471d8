import pyarrow as pa
import pytest

from docflow.core import versions
from docflow.core.versions import FileStat, Recorded, RecordedVersions

ROWS = [
    {"doc_id": "b.txt", "content_sha256": "1" * 64, "size": 10, "mtime_ns": 11, "ctime_ns": 12, "inode": 13,
     "source_version": "", "observed_ns": 14},
    {"doc_id": "dir/ä é.md", "content_sha256": "2" * 64, "size": 20, "mtime_ns": 21, "ctime_ns": 22, "inode": 23,
     "source_version": '"etag-2"', "observed_ns": 24},
    {"doc_id": "a.pdf", "content_sha256": None, "size": None, "mtime_ns": None, "ctime_ns": None, "inode": None,
     "source_version": None, "observed_ns": None},
]


def ledger_table(rows):
    """In two chunks, as a scan of a table written in several commits returns it."""
    schema = versions.LEDGER_VERSIONS_SCHEMA
    return pa.Table.from_batches([pa.RecordBatch.from_pylist(rows[:1], schema),
                                  pa.RecordBatch.from_pylist(rows[1:], schema)])


@pytest.mark.parametrize("colliding", [False, True], ids=["distinct-hashes", "every-hash-equal"])
def test_every_recorded_row_is_found_by_its_doc_id_and_nothing_else(monkeypatch, colliding):
    if colliding:
        monkeypatch.setattr(versions, "_key", lambda doc_id: 7)
    recorded = RecordedVersions(ledger_table(ROWS))
    assert len(recorded) == 3
    assert recorded.get("b.txt") == Recorded("1" * 64, FileStat(10, 11, 12, 13), "", 14)
    assert recorded.get("dir/ä é.md") == Recorded("2" * 64, FileStat(20, 21, 22, 23), '"etag-2"', 24)
    assert recorded.get("a.pdf") == Recorded("", FileStat(0, 0, 0, 0), "", 0)
    assert recorded.get("c.txt") is None
    assert recorded.get("b.tx") is None
    assert sorted(recorded) == ["a.pdf", "b.txt", "dir/ä é.md"]
    assert "dir/ä é.md" in recorded and "c.txt" not in recorded and 7 not in recorded


def test_an_empty_ledger_knows_no_document():
    assert len(RecordedVersions()) == 0
    assert RecordedVersions().get("a.txt") is None
    assert RecordedVersions(ledger_table([])).get("a.txt") is None
