"""A batch context over a real LanceDB target and four small real documents."""

import pytest

from docflow.core.settings import DocflowSettings
from flows.pipeline import batch_context, build_pipeline, open_target
from docflow.core.discover import discover
from tests.sources import SOURCES
from docflow.core.retry import RetryPolicies
from tests import docbuilders as b


@pytest.fixture
def batch_setup(tmp_path):
    settings = DocflowSettings(db=str(tmp_path / "db"), table="chunks", home=tmp_path / "home")
    pipeline = build_pipeline(settings)
    target, generation = open_target(settings, pipeline)
    source = tmp_path / "src"
    b.make_corpus(source, 4, kinds=("txt", "md"))
    docs = discover([str(source)], pipeline.config.fingerprint(), source_for=SOURCES).documents
    # In-process parsing here: the injected failures below replace parse_document itself.
    no_caps = settings.model_copy(update={"parse_timeout_s": 0, "parse_memory_mb": 0})
    ctx = batch_context(target, generation, pipeline, no_caps, RetryPolicies(), "run-1")
    return ctx, list(docs)
