"""Accuracy of the shipped rules on the labelled sets in tests/classification/data/."""

from pathlib import Path

import pytest

from classification.engine import Ruleset
from classification.evaluation import SHIPPED_LABELS, labelled_titles_read, ruleset_evaluate
from classification.services import ruleset_shipped_text
from tests.conftest import report_line

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def shipped():
    return Ruleset.from_text(ruleset_shipped_text())


def test_every_labelled_title_is_right(shipped):
    cases = labelled_titles_read(SHIPPED_LABELS)

    result = ruleset_evaluate(shipped, cases)

    report_line(f"classification accuracy (labelled set): {result.accuracy:.2%} ({result.correct}/{result.total})")
    assert len(cases) >= 500
    assert result.required_misses == []
    assert result.accuracy == 1.0, result.misses


def test_held_out_titles(shipped):
    result = ruleset_evaluate(shipped, labelled_titles_read(DATA / "holdout_titles.tsv"))

    report_line(f"classification accuracy (held-out set): {result.accuracy:.2%} ({result.correct}/{result.total})")
    assert result.accuracy >= 0.95, result.misses


def test_every_language_is_covered(shipped):
    for title, level in [
        ("Geschäftsführer", "csuite"),
        ("Vizepräsident", "vp"),
        ("Directeur Général", "csuite"),
        ("Vice-président", "vp"),
        ("Consejero Delegado", "csuite"),
        ("Vicepresidente", "vp"),
        ("Diretor Presidente", "csuite"),
        ("Vice-Presidente", "vp"),
        ("Amministratore Delegato", "csuite"),
        ("Vicepresidente Esecutivo", "vp"),
    ]:
        assert shipped.classify(title).level == level, title
        assert shipped.classify(title.upper()).level == level, title
