"""How a run's documents are cut into batches: bounded task runs, largest first, a shrinking tail."""

import random

import pytest

from docflow.core.models import DocRef
from docflow.core.plan import make_batches


def _refs(sizes) -> list[DocRef]:
    return [DocRef(f"d{i}", f"/s/d{i}", "/s", size, 0, "", "", "txt") for i, size in enumerate(sizes)]


@pytest.mark.parametrize(("docs", "batch_size", "workers", "runs"), [
    (10, 16, 2, 6),            # a small corpus is split so both workers get work
    (3_000, 16, 2, 192),       # the configured size, and a shrinking tail
    (100_000, 16, 2, 2_000),   # a large one grows its batches instead of its task runs
    (1_000_000, 16, 8, 2_000),
])
def test_batch_task_runs_stay_bounded_as_the_corpus_grows(docs, batch_size, workers, runs):
    refs = _refs([1] * docs)
    batches = make_batches(refs, batch_size, workers)
    assert len(batches) == runs
    assert [d for batch in batches for d in batch] == refs  # equal sizes keep their order
    assert max(len(b) for b in batches) <= max(batch_size, -(-docs // 2_000))


def test_the_largest_documents_go_first_and_the_last_batches_are_small():
    sizes = [random.Random(7).randint(1, 10**6) for _ in range(317)]
    batches = make_batches(_refs(sizes), 16, 2)
    flat = [d.size for batch in batches for d in batch]
    assert sorted(flat, reverse=True) == flat and len(flat) == 317
    lengths = [len(b) for b in batches]
    assert lengths[0] == 16 and lengths == sorted(lengths, reverse=True)
    assert max(lengths[-4:]) <= 4  # the last batches leave no worker idle for long
    assert min(lengths[:-1]) >= 4  # none but the remainder below a quarter of the batch size
