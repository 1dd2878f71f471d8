"""Small real documents built at test time (no binary fixtures in the repository)."""

from __future__ import annotations

import io
import random
from pathlib import Path


def noise(size: int = 8192) -> bytes:
    """Random bytes from a fixed seed: the same "corrupt file" on every run."""
    return random.Random(6).randbytes(size)


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


# --- scans, images and the formats that need extras or system tools --------------------------

SCANNED_PARAGRAPH = (
    "Quarterly invoice reconciliation for the Lisbon warehouse shows eleven pallets of copper "
    "wire arrived late because the harbour crane failed on Tuesday morning. The auditor asked "
    "for signed delivery notes from every carrier before the accounts are closed."
)


def text_image(text: str = SCANNED_PARAGRAPH, width: int = 1700, font_px: int = 40):
    """`text` rendered black on white like a 200 dpi scan of a printed page (PIL's bundled
    font, so the test needs no system fonts)."""
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=font_px)
    lines = textwrap.wrap(text, width=int(width / (font_px * 0.55)))
    image = Image.new("L", (width, int(width * 1.3)), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((font_px * 3, font_px * 3 + i * int(font_px * 1.5)), line, font=font, fill=0)
    return image


def make_image(path: Path, text: str = SCANNED_PARAGRAPH) -> Path:
    """An image of text in the format the suffix names (PNG, JPEG, TIFF, BMP, GIF, WebP)."""
    image = text_image(text)
    image.convert("RGB").save(path) if path.suffix.lower() in (".jpg", ".jpeg") else image.save(path)
    return path


def make_scanned_pdf(path: Path, texts: tuple[str, ...] = (SCANNED_PARAGRAPH,)) -> Path:
    """One image-only page per text: what a scanner produces (no text layer at all)."""
    images = [text_image(t) for t in texts]
    images[0].save(path, "PDF", resolution=200, save_all=True, append_images=images[1:])
    return path


def make_mixed_pdf(path: Path, typed: str, scanned: str = SCANNED_PARAGRAPH) -> Path:
    """Page 1 has a text layer holding `typed`; page 2 is a scan of `scanned`."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.add_page(PdfReader(io.BytesIO(pdf_bytes([[typed]]))).pages[0])
    scan = io.BytesIO()
    text_image(scanned).save(scan, "PDF", resolution=200)
    writer.add_page(PdfReader(scan).pages[0])
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def make_xlsx(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def make_xls(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    import xlwt

    book = xlwt.Workbook()
    for name, rows in sheets.items():
        sheet = book.add_sheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write(r, c, value)
    book.save(str(path))
    return path


def make_tsv(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    return path


def pandoc_convert(markdown: str, path: Path) -> Path:
    """`markdown` written in the format of `path`'s suffix by the pandoc binary (.odt, .rtf,
    .epub, .org, .rst, ...)."""
    import subprocess

    to = {".odt": "odt", ".rtf": "rtf", ".epub": "epub", ".org": "org", ".rst": "rst"}[path.suffix]
    extra = ["--standalone"] if to == "rtf" else []
    subprocess.run(
        ["pandoc", "--from", "markdown", "--to", to, *extra, "-o", str(path)],
        input=markdown.encode(), check=True, capture_output=True, timeout=120,
    )
    return path


def libreoffice_convert(source: Path, suffix: str) -> Path:
    """`source` (.docx or .pptx) saved by headless LibreOffice in the legacy binary format
    `suffix` (.doc or .ppt), next to it."""
    import subprocess
    import tempfile

    filters = {".doc": "doc:MS Word 97", ".ppt": "ppt:MS PowerPoint 97"}
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:  # never in a corpus
        subprocess.run(
            ["soffice", "--headless", f"-env:UserInstallation=file://{profile}", "--convert-to",
             filters[suffix], "--outdir", str(source.parent), str(source)],
            check=True, capture_output=True, timeout=180,
        )
    return source.with_suffix(suffix)


def make_xml(path: Path, topic: str = "XML") -> Path:
    items = "".join(f"<item><text>{p}</text></item>" for p in paragraphs(topic, 2))
    path.write_text(f"<?xml version='1.0' encoding='utf-8'?><catalog>{items}</catalog>", encoding="utf-8")
    return path
