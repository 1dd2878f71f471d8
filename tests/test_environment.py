"""The install itself: the pins that keep a CPU-only, offline install working stay in force."""

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


def test_the_server_scheduler_creates_runs_with_the_installed_sqlalchemy(tmp_path):
    # SQLAlchemy 2.1 made Prefect 3.8's scheduler fail on every loop ("Can't evaluate bulk DML
    # statement"), so no schedule ever fired; one loop of the real service must create runs.
    import subprocess
    import sys

    probe = subprocess.run(
        [sys.executable, "-m", "tests.scheduler_probe", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert int(probe.stdout.strip().splitlines()[-1]) > 0
