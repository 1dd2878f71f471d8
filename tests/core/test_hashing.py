import hashlib
import io

from docflow.core.hashing import BLOCK, sha256_file, sha256_stream


def test_a_file_and_its_copy_hash_to_the_bytes_sha256(tmp_path):
    data = bytes(range(256)) * (BLOCK // 128)  # two blocks, so the block loop is exercised
    path = tmp_path / "doc.bin"
    path.write_bytes(data)
    copy = io.BytesIO()
    with open(path, "rb") as reader:
        assert sha256_stream(reader, copy) == (hashlib.sha256(data).hexdigest(), len(data))
    assert copy.getvalue() == data
    assert sha256_file(str(path)) == hashlib.sha256(data).hexdigest()
