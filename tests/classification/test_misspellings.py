"""Role words typed with one slip are read as the word meant; real words near them are not."""

import pytest

from classification import misspellings
from classification.misspellings import Misspellings

WORDS = ["chief", "executive", "president", "officer", "financial"]
NEVER = ["office", "resident", "thief"]


@pytest.fixture
def slips():
    return Misspellings(WORDS, NEVER, min_length=5)


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("chief finanical officer", "chief financial officer"),  # a letter too many
        ("chief financal officer", "chief financial officer"),  # a letter missing
        ("chief financiel officer", "chief financial officer"),  # a letter wrong
        ("cheif executive officer", "chief executive officer"),  # two neighbours swapped
        ("vice presdient , sales", "vice president , sales"),
    ],
)
def test_one_slip_is_read_as_the_role_word(slips, typed, read):
    assert slips.correct(typed) == read


@pytest.mark.parametrize(
    "text",
    [
        "office manager",  # never: a real word one slip from "officer"
        "resident physician",
        "chef de cuisine",  # "chef" is shorter than min_length
        "chief fnancal officer",  # two slips
        "cheif2 officer",  # not a word of letters
        "executive chef",
    ],
)
def test_real_words_and_bigger_differences_stay_as_typed(slips, text):
    assert slips.correct(text) == text


def test_a_word_one_slip_from_two_role_words_is_left_alone():
    slips = Misspellings(["chiefs", "chiefz"], [], min_length=5)

    assert slips.correct("chiefx") == "chiefx"


def test_the_memory_is_bounded_and_never_forgets_the_protected_words(slips, monkeypatch):
    monkeypatch.setattr(misspellings, "_MEMORY_SIZE", 10)

    for number in range(50):
        slips.correct(f"manager{'x' * (number % 7)} word{number}")

    assert len(slips._settled) <= 10 + len(WORDS) + len(NEVER)
    assert slips.correct("office cheif") == "office chief"


def test_a_very_long_word_is_not_looked_at_nor_remembered(slips):
    word = "x" * 10_000

    assert slips.correct(f"chief {word} officer") == f"chief {word} officer"
    assert word not in slips._settled
