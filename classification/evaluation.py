"""Measure a ruleset against labelled titles: a file (`level<TAB>title` per line; "#" starts a
comment, a leading "!" marks a case that must be right), or the confirmed labels operators gave.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .engine import Ruleset

# The labelled set shipped with the rules: what every issue named, each language, the false friends.
SHIPPED_LABELS = Path(__file__).parent / "rulesets" / "labelled_titles.tsv"


@dataclass(frozen=True)
class LabelledTitle:
    line: int
    title: str
    expected: str  # csuite | vp | none
    required: bool


@dataclass
class Evaluation:
    total: int = 0
    correct: int = 0
    misses: list[tuple[LabelledTitle, str, str]] = field(default_factory=list)  # (case, got level, rule)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def required_misses(self) -> list[tuple[LabelledTitle, str, str]]:
        return [miss for miss in self.misses if miss[0].required]


def labelled_titles_read(path: str | Path) -> list[LabelledTitle]:
    cases = []
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        label, _, title = raw.partition("\t")
        required = label.startswith("!")
        expected = label.lstrip("!")
        if expected not in ("csuite", "vp", "none") or not title:
            raise ValueError(f"{path}:{number}: expected 'level<TAB>title', got {raw!r}")
        cases.append(LabelledTitle(number, title, expected, required))
    return cases


def ruleset_evaluate(ruleset: Ruleset, cases: list[LabelledTitle]) -> Evaluation:
    result = Evaluation()
    for case in cases:
        decision = ruleset.classify_uncached(case.title)
        got = decision.level or "none"
        result.total += 1
        if got == case.expected:
            result.correct += 1
        else:
            result.misses.append((case, got, decision.rule))
    return result


def confirmed_labels_read() -> list[LabelledTitle]:
    """The confirmed labels as cases, each one required (`line` is the label's id)."""
    from .models import ConfirmedLabel

    return [
        LabelledTitle(pk, title, level, True)
        for pk, title, level in ConfirmedLabel.objects.order_by("pk").values_list("pk", "title", "level")
    ]
