"""Retrieval quality: passage-level questions over Python's library reference, per chunking and
per embedding backend, in one run.

Each question of benchmarks/questions/python_library.jsonl names the page that answers it and
a short answer string that appears verbatim deep inside that page. A hit at k: one of the k
chunks nearest the question (cosine, as `docflow search` ranks) comes from that page and
contains the answer string. Prints recall@1/@5/@10 and MRR@10 for every configuration.

The pages are those of benchmarks/questions/python_library_pages.txt (the library/*.html pages
of python3.11-doc between 24 and 80 KB); get the collection as ../shared/corpora.md says:

    mkdir -p /tmp/corpus && cd /tmp/corpus && apt-get download python3.11-doc \\
        && dpkg -x python3.11-doc_*.deb python-docs
    .venv/bin/python benchmarks/retrieval.py                        # every configuration
    .venv/bin/python benchmarks/retrieval.py --configs today plain --backends torch onnx-int8
    .venv/bin/python benchmarks/retrieval.py --pages 80             # question pages + fewer others

It calls docflow's own parse, chunk and embed functions (tasks/) in this process, not the flow:
parsing once, then chunking and embedding once per configuration."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docflow  # noqa: E402,F401  (offline environment)
import numpy as np  # noqa: E402

from docflow.core.models import EmbedBackend  # noqa: E402
from docflow.core.settings import DocflowSettings  # noqa: E402
from docflow.core.chunk import ChunkSettings, chunk_elements, embedded_texts  # noqa: E402

QUESTIONS = ROOT / "benchmarks" / "questions" / "python_library.jsonl"
PAGES = ROOT / "benchmarks" / "questions" / "python_library_pages.txt"
DEFAULT_CORPUS = Path("/tmp/corpus/python-docs/usr/share/doc/python3.11/html")
KS = (1, 5, 10)


@dataclass(frozen=True)
class Question:
    question: str
    doc: str
    answer: str


@dataclass(frozen=True)
class Config:
    """A chunking (with or without each chunk's section title embedded with its text)."""

    name: str
    chunking: ChunkSettings


def _settings_chunking() -> ChunkSettings:
    s = DocflowSettings()
    return ChunkSettings(s.chunk_max_characters, s.chunk_new_after_n_chars, s.chunk_combine_under_n_chars,
                         s.chunk_overlap, s.chunk_carry_title)


def configs() -> dict[str, Config]:
    # chunk_by_title(max_characters=1000, new_after_n_chars=800) leaves combine_text_under_n_chars
    # at its default, max_characters (capped by unstructured at new_after_n_chars).
    plain = ChunkSettings(1000, 800, 1000, 0)
    return {
        c.name: c
        for c in (
            Config("settings", _settings_chunking()),
            Config("today", ChunkSettings(1000, 800, 200, 0)),
            Config("today+title", ChunkSettings(1000, 800, 200, 0, carry_title=True)),
            Config("plain", plain),
            Config("small", ChunkSettings(600, 500, 500, 0)),
            Config("overlap", ChunkSettings(1000, 800, 800, 150)),
            Config("plain+title", ChunkSettings(1000, 800, 1000, 0, carry_title=True)),
        )
    }


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    return [Question(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def pick_pages(questions: Sequence[Question], limit: int | None) -> list[str]:
    """Every page a question is about, then the other listed pages in order, up to `limit`."""
    listed = [line.strip() for line in PAGES.read_text().splitlines() if line.strip()]
    wanted = list(dict.fromkeys(q.doc for q in questions))
    others = [p for p in listed if p not in wanted]
    pages = wanted + others
    return pages[: max(limit, len(wanted))] if limit else pages


def parse_pages(corpus: Path, pages: Sequence[str]) -> dict[str, list]:
    from docflow.adapters.parsers.parse import parse_document

    return {page: parse_document(str(corpus / page), "html") for page in pages}


def check_questions(questions: Sequence[Question], parsed: dict[str, list]) -> list[str]:
    """A question is only fair if its answer really is in its page, past the page's opening."""
    problems = []
    for q in questions:
        text = normalize(" ".join(e.text for e in parsed[q.doc]))
        at = text.find(normalize(q.answer))
        if at < 0:
            problems.append(f"answer not in {q.doc}: {q.answer!r}")
        elif at < 300:
            problems.append(f"answer in the first 300 characters of {q.doc}: {q.answer!r}")
    return problems


class Embedder:
    """Embeds with one backend and remembers: a chunk text shared by two chunkings, and every
    question, is embedded once per backend."""

    def __init__(self, backend: EmbedBackend, batch_size: int) -> None:
        from docflow.adapters.embedders.sentence_transformers import default_model_path

        self.backend, self.batch_size, self.model = backend, batch_size, default_model_path()
        self.cache: dict[str, np.ndarray] = {}
        self.seconds = 0.0
        self.embedded = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        from docflow.adapters.embedders import embed_texts

        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            started = time.monotonic()
            vectors = embed_texts(todo, self.model, batch_size=self.batch_size, backend=self.backend)
            self.seconds += time.monotonic() - started
            self.embedded += len(todo)
            self.cache.update(zip(todo, vectors))
        return np.stack([self.cache[t] for t in texts])


def evaluate(questions: Sequence[Question], parsed: dict[str, list], config: Config, embed: Embedder) -> dict:
    docs, texts, chunk_texts = [], [], []
    for page, elements in parsed.items():
        chunks = chunk_elements(elements, config.chunking)
        docs += [page] * len(chunks)
        chunk_texts += [normalize(c.text) for c in chunks]
        texts += embedded_texts(chunks, config.chunking.carry_title)
    vectors = embed(texts)
    queries = embed([q.question for q in questions])
    top = np.argsort(-(queries @ vectors.T), axis=1)[:, : max(KS)]
    ranks = []
    for q, row in zip(questions, top):
        answer = normalize(q.answer)
        hit = next((i for i, c in enumerate(row) if docs[c] == q.doc and answer in chunk_texts[c]), None)
        ranks.append(None if hit is None else hit + 1)
    result = {f"recall@{k}": 100 * sum(r is not None and r <= k for r in ranks) / len(ranks) for k in KS}
    result["mrr@10"] = sum(1 / r for r in ranks if r is not None) / len(ranks)
    result["chunks"] = len(texts)
    result["mean_chars"] = round(sum(map(len, chunk_texts)) / max(1, len(chunk_texts)))
    result["missed"] = [q.doc for q, r in zip(questions, ranks) if r is None or r > 5]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="the html/ folder")
    parser.add_argument("--pages", type=int, help="index fewer pages (question pages are kept)")
    parser.add_argument("--configs", nargs="+", default=["settings", "today", "today+title", "plain", "small", "overlap", "plain+title"])
    parser.add_argument("--backends", nargs="+", default=[b.value for b in EmbedBackend])
    parser.add_argument("--backend-config", default="settings", help="chunking the backends are compared on")
    parser.add_argument("--chunk-backend", default="torch", help="backend the chunkings are compared with")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    questions = load_questions()
    pages = pick_pages(questions, args.pages)
    started = time.monotonic()
    parsed = parse_pages(args.corpus, pages)
    parse_s = time.monotonic() - started
    problems = check_questions(questions, parsed)
    if problems:
        raise SystemExit("unfair questions:\n  " + "\n  ".join(problems))
    print(f"{len(questions)} questions over {len(set(q.doc for q in questions))} pages; "
          f"{len(pages)} pages indexed (parsed in {parse_s:.0f} s)", flush=True)

    table = configs()
    runs = [(name, args.chunk_backend) for name in args.configs]
    runs += [(args.backend_config, b) for b in args.backends if (args.backend_config, b) not in runs]
    embedders: dict[str, Embedder] = {}
    results = []
    header = f"{'chunking':<12} {'backend':<10} {'chunks':>6} {'chars':>5} " + " ".join(
        f"{'R@' + str(k):>6}" for k in KS) + f" {'MRR@10':>7}"
    print(header, flush=True)
    for name, backend in runs:
        embed = embedders.setdefault(backend, Embedder(EmbedBackend(backend), args.batch_size))
        result = {"chunking": name, "backend": backend, **evaluate(questions, parsed, table[name], embed)}
        results.append(result)
        print(f"{name:<12} {backend:<10} {result['chunks']:>6} {result['mean_chars']:>5} "
              + " ".join(f"{result[f'recall@{k}']:>6.1f}" for k in KS) + f" {result['mrr@10']:>7.3f}", flush=True)
    for backend, embed in embedders.items():
        print(f"embedding {backend}: {embed.embedded} texts in {embed.seconds:.0f} s "
              f"({embed.embedded / max(embed.seconds, 1e-9):.1f} texts/s)")
    settings = table["settings"].chunking
    print(f"settings chunking: max_characters={settings.max_characters} new_after_n_chars="
          f"{settings.new_after_n_chars} combine_under_n_chars={settings.combine_under_n_chars} "
          f"overlap={settings.overlap}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
