from docflow.core.chunk import ChunkSettings, chunk_elements, embedded_texts
from docflow.adapters.parsers.parse import parse_document
from tests import docbuilders as b

SETTINGS = ChunkSettings(max_characters=300, new_after_n_chars=250, combine_under_n_chars=50, overlap=0)


def test_chunks_respect_the_size_limit_and_are_numbered(tmp_path):
    elements = parse_document(str(b.make_md(tmp_path / "a.md", n=8)), "md")
    chunks = chunk_elements(elements, SETTINGS)
    assert len(chunks) > 2
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert all(0 < len(c.text) <= SETTINGS.max_characters for c in chunks)


def test_chunks_carry_page_title_and_element_types(tmp_path):
    elements = parse_document(str(b.make_pdf(tmp_path / "a.pdf", pages=2)), "pdf")
    chunks = chunk_elements(elements, SETTINGS)
    assert chunks[0].page == 1 and chunks[-1].page == 2
    md_chunks = chunk_elements(parse_document(str(b.make_md(tmp_path / "b.md")), "md"), SETTINGS)
    assert md_chunks[0].title == "Markdown"
    assert "Title" in md_chunks[0].element_types


def test_chunking_is_deterministic(tmp_path):
    path = str(b.make_html(tmp_path / "a.html", n=6))
    first = chunk_elements(parse_document(path, "html"), SETTINGS)
    second = chunk_elements(parse_document(path, "html"), SETTINGS)
    assert first == second


def test_carried_titles_prefix_the_embedded_text_of_untitled_chunks_only(tmp_path):
    path = tmp_path / "a.md"
    long_section = " ".join(f"Sentence {i} about the retry policy of failed batches." for i in range(12))
    path.write_text(f"# Retries\n\n{long_section}\n\n# Exports\n\nShort text about exports.\n", encoding="utf-8")
    chunks = chunk_elements(parse_document(str(path), "md"), SETTINGS)
    assert len(chunks) >= 3 and chunks[0].text.startswith("Retries")
    plain, carried = embedded_texts(chunks, False), embedded_texts(chunks, True)
    assert plain == [c.text for c in chunks]
    for chunk, text in zip(chunks, carried):
        section = "Exports" if "exports" in chunk.text else "Retries"
        if chunk.text.startswith(section):
            assert text == chunk.text  # the title is already read first
        else:
            assert text == f"{section}\n{chunk.text}", "a chunk deep in a section is read under its title"
    assert carried != plain
