"""Measure a ruleset against labelled titles: a file, or the confirmed labels operators gave.

A file has one case per line: `level<TAB>title[<TAB>function[<TAB>language]]`. "#" starts a
comment, a leading "!" marks a case that must be right; the function ("-" for none) is what a
senior title's holder runs, the language an ISO 639-1 code (zh-Hans, zh-Hant; "mixed"). A case is
right when the level is, and the function too where one is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .engine import LEVELS, Ruleset
from .functions import FUNCTIONS

# The labelled set shipped with the rules: what every issue named, each language, the false friends.
SHIPPED_LABELS = Path(__file__).parent / "rulesets" / "labelled_titles.tsv"
NO_LANGUAGE = "—"


@dataclass(frozen=True)
class LabelledTitle:
    line: int
    title: str
    expected: str  # csuite | vp | none
    required: bool
    function: str | None = None  # what the holder runs, where labelled (senior cases only)
    language: str = NO_LANGUAGE

    @property
    def expected_text(self) -> str:
        return f"{self.expected}/{self.function}" if self.function else self.expected


@dataclass
class Tally:
    correct: int = 0
    total: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass
class Miss:
    case: LabelledTitle
    level: str  # what the rules said: csuite | vp | none
    function: str | None
    rule: str

    @property
    def got_text(self) -> str:
        return f"{self.level}/{self.function}" if self.case.function and self.function else self.level


@dataclass
class Evaluation:
    total: int = 0
    correct: int = 0
    misses: list[Miss] = field(default_factory=list)
    by_language: dict[str, Tally] = field(default_factory=dict)
    by_function: dict[str, Tally] = field(default_factory=dict)  # cases labelled with a function

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def required_misses(self) -> list[Miss]:
        return [miss for miss in self.misses if miss.case.required]

    def add(self, case: LabelledTitle, right: bool) -> None:
        self.total += 1
        self.correct += right
        tallies = [self.by_language.setdefault(case.language, Tally())]
        if case.function:
            tallies.append(self.by_function.setdefault(case.function, Tally()))
        for tally in tallies:
            tally.total += 1
            tally.correct += right


def labelled_titles_read(path: str | Path) -> list[LabelledTitle]:
    cases = []
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        fields = raw.split("\t")
        label, title, function, language = (fields + ["", "", ""])[:4]
        extra = fields[4:]
        required = label.startswith("!")
        expected = label.lstrip("!")
        function = None if function in ("", "-") else function
        problem = (
            "expected 'level<TAB>title[<TAB>function[<TAB>language]]'"
            if expected not in (*LEVELS, "none") or not title or extra
            else f"unknown function {function!r} (one of {', '.join(FUNCTIONS)}, or -)"
            if function is not None and function not in FUNCTIONS
            else "a title that is not senior has no function: write -"
            if function is not None and expected == "none"
            else None
        )
        if problem:
            raise ValueError(f"{path}:{number}: {problem}, got {raw!r}")
        cases.append(LabelledTitle(number, title, expected, required, function, language.strip() or NO_LANGUAGE))
    return cases


def ruleset_evaluate(ruleset: Ruleset, cases: list[LabelledTitle]) -> Evaluation:
    result = Evaluation()
    for case in cases:
        decision = ruleset.classify_uncached(case.title)
        got = decision.level or "none"
        right = got == case.expected and (case.function is None or decision.function == case.function)
        result.add(case, right)
        if not right:
            result.misses.append(Miss(case, got, decision.function, decision.rule))
    return result


def confirmed_labels_read() -> list[LabelledTitle]:
    """The confirmed labels as cases, each one required (`line` is the label's id)."""
    from .models import ConfirmedLabel

    rows = ConfirmedLabel.objects.order_by("pk").values_list("pk", "title", "level", "function")
    return [LabelledTitle(pk, title, level, True, function or None) for pk, title, level, function in rows]
