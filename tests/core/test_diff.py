import pyarrow as pa

from docflow.core.models import DocRef
from docflow.core.diff import diff, mass_delete_guard
from docflow.core.versions import LEDGER_COLUMNS, LEDGER_VERSIONS_SCHEMA, RecordedVersions


def doc(doc_id: str, fingerprint: str = "f") -> DocRef:
    return DocRef(doc_id, f"/s/{doc_id}", "/s", 1, 0, "c", fingerprint, "txt")


def test_diff_sorts_documents_into_added_updated_unchanged_deleted():
    discovered = [doc("new.txt"), doc("changed.txt", "f2"), doc("same.txt")]
    ledger = {"changed.txt": "f1", "same.txt": "f", "gone.txt": "f", "unreadable.txt": "f"}
    changes = diff(discovered, ["new.txt", "changed.txt", "same.txt", "unreadable.txt"], ledger, {"same.txt"})
    assert changes.added == ("new.txt",)
    assert changes.updated == ("changed.txt",)
    assert changes.unchanged == ("same.txt",)
    assert changes.deleted == ("gone.txt",)  # an unreadable file has not disappeared
    assert changes.counts() == {"added": 1, "updated": 1, "unchanged": 1, "deleted": 1, "indexed": 4}
    recorded = RecordedVersions(pa.table({**{name: [None] * 4 for name in LEDGER_COLUMNS}, "doc_id": list(ledger)},
                                         schema=LEDGER_VERSIONS_SCHEMA))
    assert diff(discovered, ["new.txt", "changed.txt", "same.txt", "unreadable.txt"], recorded, {"same.txt"}) == changes


def test_guard_allows_small_deletions_and_refuses_large_or_empty_sources():
    ledger = {f"d{i}.txt": "f" for i in range(10)}
    some_gone = diff([doc(f"d{i}.txt") for i in range(8)], [f"d{i}.txt" for i in range(8)], ledger, set())
    assert mass_delete_guard(some_gone, 0.2, False, source_empty=False).allowed
    many_gone = diff([doc("d0.txt")], ["d0.txt"], ledger, set())
    verdict = mass_delete_guard(many_gone, 0.2, False, source_empty=False)
    assert not verdict.allowed and "9 of 10" in verdict.reason and "--allow-mass-delete" in verdict.reason
    assert mass_delete_guard(many_gone, 0.2, True, source_empty=False).allowed
    all_gone = diff([], [], ledger, set())
    assert "source is empty" in mass_delete_guard(all_gone, 1.0, False, source_empty=True).reason


def test_nothing_to_delete_is_always_allowed():
    assert mass_delete_guard(diff([doc("a")], ["a"], {}, set()), 0.0, False, source_empty=False).allowed
