"""One file of every supported format through the real CLI (Prefect server, the session's warm
Dask workers, the model, LanceDB): each is indexed, or, for .doc/.ppt without LibreOffice,
failed with the message that says how to enable it; what is not a document is counted, never
silent."""

import json
import shutil

import pytest

from docflow.adapters.stores.lancedb import database
from tests import docbuilders as b

pytestmark = pytest.mark.e2e

SHEET_SENTENCE = "Harbour pilot Marguerite Okafor renews her licence in April"
MARKDOWN = "# Orchard report\n\nThe persimmon orchard near Valparaiso produced a record harvest.\n"


def build_corpus(src) -> set[str]:
    src.mkdir()
    b.make_scanned_pdf(src / "scan.pdf")
    b.make_mixed_pdf(src / "mixed.pdf", "Typed page about the hydraulic pump maintenance schedule.")
    for suffix in (".png", ".jpg", ".tiff"):
        b.make_image(src / f"shot{suffix}")
    b.make_xlsx(src / "staff.xlsx", {"Budget": [["item", "cost"], ["turbine blades", "4500"]],
                                     "Staff": [["note"], [SHEET_SENTENCE]]})
    b.make_xls(src / "old.xls", {"Ledger": [["account", "balance"], ["Kestrel Mining", "9120"]]})
    b.make_tsv(src / "rivers.tsv", [["city", "river"], ["Vienna", "Danube"]])
    for suffix in (".odt", ".rtf", ".epub", ".org", ".rst"):
        b.pandoc_convert(MARKDOWN, src / f"orchard{suffix}")
    b.make_xml(src / "feed.xml", topic="Heron")
    legacy = set()
    if shutil.which("soffice"):
        legacy = {b.libreoffice_convert(b.make_docx(src / "letter.docx", topic="Glacier"), ".doc").name,
                  b.libreoffice_convert(b.make_pptx(src / "deck.pptx", topic="Volcano"), ".ppt").name}
        (src / "letter.docx").unlink()
        (src / "deck.pptx").unlink()
    else:
        for name in ("letter.doc", "deck.ppt"):  # OLE2 header: what discovery and parse check
            (src / name).write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    return {p.name for p in src.iterdir()} - ({"letter.doc", "deck.ppt"} - legacy)


def test_every_format_is_indexed_and_nothing_is_ignored_silently(warm_cli, tmp_path):
    src, db = tmp_path / "src", tmp_path / "db"
    indexed = build_corpus(src)
    (src / "backup.zip").write_bytes(b"PK\x05\x06" + bytes(18))

    result = warm_cli("ingest", str(src), "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    status = json.loads(warm_cli("status", "--db", str(db), "--json", "--failed").stdout)
    failed = {f["doc_id"]: f for f in status["failed"]}
    assert summary["documents_processed"] == len(indexed), failed
    for name in {"letter.doc", "deck.ppt"} - indexed:
        assert "needs LibreOffice: run DOCFLOW_WITH_LIBREOFFICE=1 scripts/setup.sh" in failed[name]["error_message"]
    assert set(failed) == {"letter.doc", "deck.ppt"} - indexed
    assert summary["documents_ignored"] == 1
    assert summary["ignored_by_reason"] == {"unknown_extension": 1}
    assert summary["ignored_by_extension"] == {".zip": 1}
    assert status["last_run_ignored"]["ignored_by_extension"] == {".zip": 1}

    rows = database.open_table(database.connect(str(db), {}), "chunks").to_arrow().to_pylist()
    assert all("OCR" in r["element_types"] for r in rows if r["doc_id"] in ("scan.pdf", "shot.png"))
    assert not any("OCR" in r["element_types"] for r in rows if r["doc_id"] == "staff.xlsx")

    def top_hit(query: str) -> list[dict]:
        found = warm_cli("search", query, "--db", str(db), "-k", "3", "--json")
        assert found.returncode == 0, found.stderr[-2000:]
        return json.loads(found.stdout)["hits"]

    scanned = top_hit("copper wire pallets delivered late to the Lisbon warehouse")
    assert scanned[0]["doc_id"] in {"scan.pdf", "mixed.pdf", "shot.png", "shot.jpg", "shot.tiff"}
    assert "Lisbon" in scanned[0]["text"]
    sheet = top_hit("when does the harbour pilot renew her licence")
    assert sheet[0]["doc_id"] == "staff.xlsx" and SHEET_SENTENCE in sheet[0]["text"]
