"""The first-character hint derived from role patterns must never exclude a real match."""

import re

import pytest

from classification.regex_hint import first_characters, lookahead_for


@pytest.mark.parametrize(
    "pattern,expected",
    [
        ("ceo", {"c"}),
        ("chief (?:x|y) officer", {"c"}),
        ("(?:(?:assistant|asst) )?(?:vice|vp)", {"a", "v"}),
        ("[searcgd]?vp|v p", {"s", "e", "a", "r", "c", "g", "d", "v"}),
        ("(?<!vice )(?:presiden|prasident)", {"p"}),
        ("(?!x)daf", {"d"}),
        ("a*b", {"a", "b"}),
    ],
)
def test_first_characters(pattern, expected):
    assert first_characters(pattern) == expected


@pytest.mark.parametrize("pattern", [r"\w*vorstand", "[^a]x", ".x", "a?", r"\d+"])
def test_unknown_starts_give_no_hint(pattern):
    assert first_characters(pattern) is None


def test_no_hint_when_any_pattern_is_unknown():
    assert lookahead_for(["ceo", r"\w+x"]) == ""


def test_the_hint_keeps_every_match():
    patterns = ["(?:(?:assistant|asst) )?vice president", "c[ef]o", "pdg|p d g"]
    plain = re.compile("(?:" + "|".join(patterns) + ")")
    hinted = re.compile(lookahead_for(patterns) + "(?:" + "|".join(patterns) + ")")
    text = "assistant vice president, cfo and p d g and vice president ceo"

    assert [m.group() for m in hinted.finditer(text)] == [m.group() for m in plain.finditer(text)]
