"""The classification entry point the intake pipeline relies on."""

import pytest

from classification.engine import Ruleset, RulesetError, normalise_title
from classification.services import classify


@pytest.mark.parametrize(
    "title,level",
    [
        ("VP of Sales", "vp"),
        ("Senior Vice President, Marketing", "vp"),
        ("SVP Finance", "vp"),
        ("Chief Executive Officer", "csuite"),
        ("CFO", "csuite"),
        ("C.E.O.", "csuite"),
        ("President", "csuite"),
        ("Software Engineer", None),
        ("Assistant to the CEO", None),
        ("Former CEO", None),
        ("", None),
    ],
)
def test_classify_levels(title, level):
    assert classify(title).level == level


def test_decision_names_rule_and_version():
    result = classify("Chief Technology Officer")

    assert result.rule == "csuite.chief-officer"
    assert result.version == "2026.11.0"
    assert result.is_senior


def test_normalisation_removes_case_accents_and_punctuation():
    assert normalise_title("  Vice-Président / Ventes ") == "vice president ventes"


@pytest.mark.parametrize(
    "text,message",
    [
        ("not json", "not valid JSON"),
        ('{"rules": []}', "version"),
        ('{"version": "1", "rules": [{"id": "r", "level": "boss", "pattern": "x"}]}', "unknown level"),
        ('{"version": "1", "rules": [{"id": "r", "level": "vp", "pattern": "("}]}', "bad pattern"),
    ],
)
def test_invalid_rulesets_are_rejected_with_a_clear_error(text, message):
    with pytest.raises(RulesetError, match=message):
        Ruleset.from_text(text)
