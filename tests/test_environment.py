"""The install itself: the traps of this machine kind stay closed."""

import importlib.util
from importlib.metadata import version

import pytest


def test_torchvision_is_not_installed():
    # An installed torchvision (no CPU build exists here) breaks every transformers import.
    assert importlib.util.find_spec("torchvision") is None
    assert importlib.util.find_spec("timm") is None


def test_torch_is_the_pinned_cpu_build():
    import torch

    assert torch.__version__.startswith("2.13.0")
    assert not torch.cuda.is_available()


def test_fastapi_is_below_the_version_that_breaks_prefect_server():
    major, minor = (int(x) for x in version("fastapi").split(".")[:2])
    assert (major, minor) < (0, 151)


def test_spacy_model_resolves_offline_under_the_name_unstructured_uses():
    import spacy

    nlp = spacy.load("en_core_web_sm", exclude=["ner", "lemmatizer", "attribute_ruler"])
    assert [t.text for t in nlp("Offline parsing works.")][:2] == ["Offline", "parsing"]


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "DO_NOT_TRACK"])
def test_offline_variables_are_set_by_importing_docflow(variable):
    import os

    import docflow  # noqa: F401

    assert os.environ[variable] == "1"
