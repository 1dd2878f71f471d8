"""Small real documents built at test time (no binary fixtures in the repository)."""

from __future__ import annotations

import io
from pathlib import Path


def paragraphs(topic: str, n: int = 3) -> list[str]:
    return [
        f"{topic} paragraph {i}: docflow parses, chunks and embeds documents so that retrieval "
        f"finds the passage about {topic.lower()} again. Sentence {i} adds detail."
        for i in range(n)
    ]


def make_txt(path: Path, topic: str = "Text", n: int = 3) -> Path:
    path.write_text(f"{topic}\n\n" + "\n\n".join(paragraphs(topic, n)) + "\n", encoding="utf-8")
    return path


def make_md(path: Path, topic: str = "Markdown", n: int = 3) -> Path:
    body = "\n\n".join(f"## Section {i}\n\n{p}" for i, p in enumerate(paragraphs(topic, n)))
    path.write_text(f"# {topic}\n\n{body}\n", encoding="utf-8")
    return path


def make_html(path: Path, topic: str = "HTML", n: int = 3) -> Path:
    body = "".join(f"<h2>Part {i}</h2><p>{p}</p>" for i, p in enumerate(paragraphs(topic, n)))
    path.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{topic}</title></head>"
        f"<body><h1>{topic}</h1>{body}</body></html>",
        encoding="utf-8",
    )
    return path


def pdf_bytes(pages: list[list[str]]) -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    for lines in pages:
        y = 780
        for line in lines:
            pdf.drawString(60, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def make_pdf(path: Path, topic: str = "PDF", pages: int = 2) -> Path:
    content = [[f"{topic} page {p + 1}", *paragraphs(f"{topic} page {p + 1}", 1)[0].split(". ")] for p in range(pages)]
    path.write_bytes(pdf_bytes(content))
    return path


def make_corrupt_pdf(path: Path) -> Path:
    """A real PDF cut in half: unstructured returns [] for it without raising."""
    data = pdf_bytes([["This PDF will be truncated", "in the middle of its objects"]])
    path.write_bytes(data[: len(data) // 2])
    return path


def make_encrypted_pdf(path: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf_bytes([["secret text"]]))).pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner")
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def make_image_only_pdf(path: Path) -> Path:
    """A valid PDF with a drawing but no text layer (what a scan looks like to the fast path)."""
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    pdf.rect(100, 100, 300, 300, fill=1)
    pdf.showPage()
    pdf.save()
    return path


def make_docx(path: Path, topic: str = "Word", n: int = 3) -> Path:
    import docx

    document = docx.Document()
    document.add_heading(topic, 1)
    for text in paragraphs(topic, n):
        document.add_paragraph(text)
    document.save(str(path))
    return path


def make_pptx(path: Path, topic: str = "Slides", n: int = 2) -> Path:
    import pptx

    deck = pptx.Presentation()
    for i, text in enumerate(paragraphs(topic, n)):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"{topic} slide {i}"
        slide.placeholders[1].text = text
    deck.save(str(path))
    return path


def make_eml(path: Path, topic: str = "Email") -> Path:
    path.write_text(
        "From: alice@example.org\nTo: bob@example.org\nSubject: "
        f"{topic}\nContent-Type: text/plain; charset=utf-8\n\n" + "\n\n".join(paragraphs(topic, 2)),
        encoding="utf-8",
    )
    return path


BUILDERS = {
    "txt": make_txt,
    "md": make_md,
    "html": make_html,
    "pdf": make_pdf,
    "docx": make_docx,
    "pptx": make_pptx,
    "eml": make_eml,
}


def make_corpus(root: Path, count: int, kinds: tuple[str, ...] = ("txt", "md", "html")) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        made.append(BUILDERS[kind](root / f"doc{i:04d}.{kind}", topic=f"Topic {i}"))
    return made
