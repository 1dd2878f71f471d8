"""The pipeline fingerprint follows every setting that changes what is indexed, OCR's too."""

import pytest
from pydantic import ValidationError

from docflow.core.settings import DocflowSettings
from flows.pipeline import build_pipeline


def fingerprint(tmp_path, **settings) -> str:
    return build_pipeline(DocflowSettings(home=tmp_path, **settings)).config.fingerprint()


def test_ocr_languages_and_dpi_are_part_of_the_fingerprint(tmp_path):
    default = fingerprint(tmp_path)
    assert fingerprint(tmp_path, ocr_dpi=300) != default
    assert fingerprint(tmp_path, ocr_languages="eng+deu") != default
    assert fingerprint(tmp_path, ocr_dpi=200, ocr_languages="eng") == default


def test_the_pipeline_carries_the_ocr_settings_to_the_workers(tmp_path):
    pipeline = build_pipeline(DocflowSettings(home=tmp_path, ocr_dpi=300, ocr_languages="eng+fra"))
    assert (pipeline.ocr.dpi, pipeline.ocr.language_list) == (300, ["eng", "fra"])


@pytest.mark.parametrize("bad", ["", "eng deu", "eng,deu", "ENG", "eng+"])
def test_ocr_languages_are_tesseract_codes_joined_by_plus(tmp_path, bad):
    with pytest.raises(ValidationError):
        DocflowSettings(home=tmp_path, ocr_languages=bad)


def test_embedding_chunks_under_their_section_titles_is_part_of_the_fingerprint(tmp_path):
    default = DocflowSettings().chunk_carry_title
    assert fingerprint(tmp_path, chunk_carry_title=not default) != fingerprint(tmp_path)
    assert build_pipeline(DocflowSettings(home=tmp_path, chunk_carry_title=True)).chunking.carry_title
