"""Labelled files: their columns, and accuracy per language and per function."""

import pytest

from classification.engine import Ruleset
from classification.evaluation import labelled_titles_read, ruleset_evaluate
from tests.classification.test_functions import RULES


@pytest.fixture(scope="module")
def rules():
    return Ruleset.from_text(RULES)


def test_a_case_is_right_when_its_level_and_function_are(tmp_path, rules):
    labels = tmp_path / "labels.tsv"
    labels.write_text(
        "# level, title, function, language\n"
        "!csuite\tCFO\tfinance\ten\n"
        "vp\tVP Sales\tmarketing\ten\n"  # the level is right, the function is not
        "vp\tVizepräsident Vertrieb\n"  # no function or language given: the level alone counts
        "none\tSales Manager\t-\tde\n"
    )

    result = ruleset_evaluate(rules, labelled_titles_read(labels))

    assert (result.correct, result.total) == (2, 4)
    assert [(m.case.title, m.case.expected_text, m.got_text) for m in result.misses] == [
        ("VP Sales", "vp/marketing", "vp/sales"),
        ("Vizepräsident Vertrieb", "vp", "none"),
    ]
    assert {k: (t.correct, t.total) for k, t in result.by_language.items()} == {"en": (1, 2), "—": (0, 1), "de": (1, 1)}
    assert {k: (t.correct, t.total) for k, t in result.by_function.items()} == {"finance": (1, 1), "marketing": (0, 1)}


@pytest.mark.parametrize(
    "line,message",
    [
        ("boss\tCEO", "expected 'level<TAB>title"),
        ("csuite\tCEO\tboss", "unknown function 'boss'"),
        ("none\tSales Manager\tsales", "a title that is not senior has no function"),
        ("vp\tVP\tsales\ten\textra", "expected 'level<TAB>title"),
    ],
)
def test_a_bad_line_is_refused_with_its_line_number(tmp_path, line, message):
    labels = tmp_path / "labels.tsv"
    labels.write_text(f"# header\n{line}\n")

    with pytest.raises(ValueError, match=f"labels.tsv:2: {message}"):
        labelled_titles_read(labels)
