import pytest

from docflow.core.errors import MissingError
from docflow.adapters.sources.local import LocalSource
from docflow.core.snapshot import snapshot


def test_a_file_gone_before_the_worker_reads_it_is_missing(tmp_path):
    with pytest.raises(MissingError, match="vanished before parsing"):
        with snapshot(str(tmp_path / "gone.txt"), LocalSource()):
            pass


def test_the_copy_holds_the_bytes_and_their_hash(tmp_path):
    source = tmp_path / "notes.txt"
    source.write_bytes(b"some text\n")
    with snapshot(str(source), LocalSource()) as copy:
        with open(copy.path, "rb") as handle:
            assert handle.read() == b"some text\n"
        assert copy.path != str(source) and copy.size == 10 and copy.stat.size == 10
    assert source.exists()
