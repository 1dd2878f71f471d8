import pytest

from docflow.core.locations import is_remote, local_path


@pytest.mark.parametrize("uri", ["s3://bucket/prefix", "https://host/doc.pdf", "gs://b/k", "db://lance", "memory://x"])
def test_urls_with_a_scheme_are_remote(uri):
    assert is_remote(uri)
    with pytest.raises(ValueError, match="not a local location"):
        local_path(uri)


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("/data/docs", "/data/docs"),
        ("relative/db", "relative/db"),
        ("file:///data/docs", "/data/docs"),
        ("FILE:///data/docs", "/data/docs"),
        ("C:\\docs", "C:\\docs"),  # a drive letter is not a scheme
        ("notes:v2.txt", "notes:v2.txt"),  # a colon without // is part of a file name
        ("docs/**/*.pdf", "docs/**/*.pdf"),
    ],
)
def test_paths_and_file_uris_are_local(uri, path):
    assert not is_remote(uri)
    assert local_path(uri) == path
