"""What a candidate ruleset would change, on the titles people confirmed and the shipped labelled set.

The ruleset editor shows it before activation, and activation refuses a ruleset that gets a
confirmed label wrong unless the operator accepted each such label (services.ruleset_activate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .engine import Classification, Ruleset, RulesetError
from .evaluation import SHIPPED_LABELS, Evaluation, LabelledTitle, Miss, confirmed_labels_read, labelled_titles_read


@dataclass(frozen=True)
class Change:
    title: str
    before: str  # level under the rules in force (none for not senior), "/function" where the label has one
    after: str  # the same under the candidate
    expected: str  # what the label says
    source: str  # "confirmed" or "shipped"
    label_id: int | None  # the ConfirmedLabel's id, for a confirmed one


@dataclass
class Impact:
    candidate_version: str
    current_version: str
    confirmed: Evaluation = field(default_factory=Evaluation)
    shipped: Evaluation = field(default_factory=Evaluation)
    changes: list[Change] = field(default_factory=list)  # every labelled title whose level or function would change
    broken: list[Change] = field(default_factory=list)  # confirmed labels the candidate gets wrong


def ruleset_impact(candidate: Ruleset, current: Ruleset) -> Impact:
    """Classify every confirmed and shipped label with both rulesets: the accuracy of the candidate on
    each set, and each title whose level (or labelled function) differs."""
    impact = Impact(candidate.version, current.version)
    sets = (("confirmed", confirmed_labels_read(), impact.confirmed), ("shipped", _shipped(), impact.shipped))
    for source, cases, evaluation in sets:
        for case in cases:
            decision = candidate.classify_uncached(case.title)
            after, before = _outcome(decision, case), _outcome(current.classify_uncached(case.title), case)
            change = Change(
                case.title, before, after, case.expected_text, source, case.line if source == "confirmed" else None
            )
            evaluation.add(case, after == case.expected_text)
            if after != case.expected_text:
                evaluation.misses.append(Miss(case, decision.level or "none", decision.function, decision.rule))
                if source == "confirmed":
                    impact.broken.append(change)
            if after != before:
                impact.changes.append(change)
    return impact


def _outcome(decision: Classification, case: LabelledTitle) -> str:
    """The decision as the label states it: the level, and the function where the label gives one."""
    level = decision.level or "none"
    return f"{level}/{decision.function}" if case.function and decision.level else level


def _shipped() -> list[LabelledTitle]:
    try:
        return labelled_titles_read(SHIPPED_LABELS)
    except (OSError, ValueError) as exc:  # the shipped file is part of the code: this is a bug, say so
        raise RulesetError(f"the shipped labelled set cannot be read: {exc}") from exc


class LabelsBroken(RulesetError):
    """The candidate gets confirmed labels wrong that the operator did not accept."""

    def __init__(self, broken: list[Change]) -> None:
        titles = "; ".join(f"{c.title!r} ({c.expected}, would be {c.after})" for c in broken[:5])
        more = f" and {len(broken) - 5} more" if len(broken) > 5 else ""
        super().__init__(
            f"it gets {len(broken)} confirmed label{'s' if len(broken) != 1 else ''} wrong: {titles}{more}. "
            "Accept each on the activation page, or change the rules or the labels."
        )
        self.broken = broken
