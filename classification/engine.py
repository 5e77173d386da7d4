"""Seniority rules: parse and validate a ruleset, then classify titles with it.

A ruleset (see rulesets/default.yaml) lists role patterns and vetoes. All role patterns are
compiled into one alternation, so a title costs one regex scan plus a veto check per role found.
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import os
import random
import re
import signal
import string
import time
from dataclasses import dataclass, field
from functools import lru_cache

import yaml

from .misspellings import Misspellings
from .normalise import CLAUSE_BREAK, normalise_title
from .normalise import MAY_BREAK as _MAY_BREAK
from .regex_hint import lookahead_for

LEVELS = ("csuite", "vp")
_RANK = {"csuite": 2, "vp": 1}
VETO_PLACES = ("before", "after", "around")
NO_ROLE_RULE = "default.no-senior-role"
# A ruleset is refused when a 10 KB probe title takes longer than this. The target is 10 ms
# (benchmarks/classification.py measures it); the guard's margin keeps it from tripping on a
# busy machine while still catching backtracking, which costs seconds, not milliseconds.
MAX_SECONDS_PER_PROBE = 0.100
CACHE_SIZE = 65_536
_SPEED_CHECK_TIMEOUT_SECONDS = 5.0
_PROBE_WORDS = ("chief ", "vice ", "vp ", "president ", "former ", "assistant to the ", "a", "c.e.o. / ", "ceo & ")
_PURE_JOINS = frozenset({"&", "and", "|", "und", "et", "y", ",", ""})


class RulesetError(ValueError):
    """A ruleset that cannot be used; the message says why. The previous ruleset stays active."""


@dataclass(frozen=True)
class Classification:
    level: str | None  # "csuite", "vp" or None
    rule: str  # the role or veto that decided, or NO_ROLE_RULE
    version: str

    @property
    def is_senior(self) -> bool:
        return self.level is not None


@dataclass(frozen=True)
class RoleRule:
    id: str
    level: str | None


@dataclass(frozen=True)
class VetoRule:
    id: str
    where: str
    regex: re.Pattern


@dataclass(eq=False)
class Ruleset:
    version: str
    description: str
    content_hash: str
    roles: tuple[RoleRule, ...]
    vetoes: tuple[VetoRule, ...]
    _roles_regex: re.Pattern = field(repr=False)
    misspellings: Misspellings | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._role_by_group = {f"r{i}": role for i, role in enumerate(self.roles)}
        # Decisions are immutable: build each one once instead of once per title.
        self._decision = {role.id: Classification(role.level, role.id, self.version) for role in self.roles}
        self._decision.update({veto.id: Classification(None, veto.id, self.version) for veto in self.vetoes})
        self._no_role = Classification(None, NO_ROLE_RULE, self.version)
        self._before_regex, self._before_ids = _combine(v for v in self.vetoes if v.where in ("before", "around"))
        self._after_regex, self._after_ids = _combine(v for v in self.vetoes if v.where in ("after", "around"))
        self.classify = lru_cache(maxsize=CACHE_SIZE)(self.classify_uncached)

    # --- loading ------------------------------------------------------------------------------
    @classmethod
    def from_text(cls, text: str) -> Ruleset:
        """Parse, compile and check a ruleset; raise RulesetError naming the first problem."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RulesetError(f"the ruleset is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise RulesetError("the ruleset must be a mapping with 'version', 'roles' and 'vetoes'")
        version = data.get("version")
        if not isinstance(version, str | int | float) or not str(version).strip():
            raise RulesetError("the ruleset needs a 'version'")
        roles_data, vetoes_data = data.get("roles"), data.get("vetoes") or []
        if not isinstance(roles_data, list) or not roles_data:
            raise RulesetError("'roles' must be a non-empty list")
        if not isinstance(vetoes_data, list):
            raise RulesetError("'vetoes' must be a list")

        seen: set[str] = set()
        roles, parts, patterns, examples = [], [], [], []
        for index, entry in enumerate(roles_data):
            rule_id, pattern = _entry_basics(entry, seen, kind="role")
            level = entry.get("level")
            if level not in (*LEVELS, "none"):
                raise RulesetError(f"role {rule_id}: unknown level {level!r} (use csuite, vp or none)")
            roles.append(RoleRule(rule_id, None if level == "none" else level))
            parts.append(f"(?P<r{index}>{pattern})")
            patterns.append(pattern)
            examples += _examples(entry, rule_id)
        vetoes = []
        for entry in vetoes_data:
            rule_id, pattern = _entry_basics(entry, seen, kind="veto")
            where = entry.get("where", "before")
            if where not in VETO_PLACES:
                raise RulesetError(f"veto {rule_id}: 'where' must be one of {', '.join(VETO_PLACES)}")
            vetoes.append(VetoRule(rule_id, where, re.compile(pattern)))
            examples += _examples(entry, rule_id)

        ruleset = cls(
            version=str(version).strip(),
            description=str(data.get("description") or "").strip(),
            content_hash=hashlib.sha256(text.encode()).hexdigest(),
            roles=tuple(roles),
            vetoes=tuple(vetoes),
            _roles_regex=re.compile(r"(?<!\w)" + lookahead_for(patterns) + "(?:" + "|".join(parts) + r")(?!\w)"),
            misspellings=_misspellings(data.get("misspellings")),
        )
        if isinstance(data.get("misspellings"), dict):
            examples += _examples(data["misspellings"], "misspellings")
        ruleset._check_examples(examples)
        ruleset._check_speed()
        return ruleset

    def _check_examples(self, examples: list[tuple[str, str, str]]) -> None:
        failures = []
        for rule_id, expected, title in examples:
            got = self.classify_uncached(title)
            if (got.level or "none") != expected:
                failures.append(
                    f"{title!r} (example of {rule_id}) should be {expected}, is {got.level or 'none'} by {got.rule}"
                )
        if failures:
            raise RulesetError("examples do not hold: " + "; ".join(failures[:5]))

    def _check_speed(self) -> None:
        """Refuse patterns that backtrack catastrophically on long or repetitive titles.

        Python's `re` cannot be interrupted mid-match, so the probe titles run in a forked child
        that is killed when it overruns: a runaway pattern costs a second here, not a hung process.
        """
        if not hasattr(os, "fork"):
            self._speed_probe(exit=False)
            return
        pid = os.fork()  # not multiprocessing: Celery's pool processes may not start children
        if pid == 0:
            # A collection in the fresh child walks the whole inherited heap and copies it page by
            # page (copy-on-write): that, not the patterns, took over 100 ms. The child is short-lived.
            gc.disable()
            try:
                self._speed_probe(exit=True)
            finally:
                os._exit(4)
        deadline = time.monotonic() + _SPEED_CHECK_TIMEOUT_SECONDS
        while (waited := os.waitpid(pid, os.WNOHANG)) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise RulesetError("a pattern backtracks catastrophically: a 10 KB probe title did not finish")
            time.sleep(0.005)
        if os.waitstatus_to_exitcode(waited[1]) != 0:
            raise RulesetError("a pattern is too slow: a 10 KB probe title took over 100 ms")

    def _speed_probe(self, *, exit: bool) -> None:
        rng = random.Random(0)
        noise = "".join(rng.choice(string.ascii_letters + " ,/&-.") for _ in range(10_000))
        for words in _PROBE_WORDS + (noise,):
            title = (words * (10_000 // len(words) + 1))[:10_000]
            if not any(self._probe_within_limit(title) for _ in range(3)):
                # Three tries: a slow pattern is slow every time, a busy host stalls one try.
                if exit:
                    os._exit(3)
                raise RulesetError("a pattern is too slow: a 10 KB probe title took over 100 ms")
        if exit:
            os._exit(0)

    def _probe_within_limit(self, title: str) -> bool:
        started = time.perf_counter()
        self.classify_uncached(title)
        return time.perf_counter() - started <= MAX_SECONDS_PER_PROBE

    # --- classifying --------------------------------------------------------------------------
    def classify_uncached(self, title: str) -> Classification:
        text = normalise_title(title)
        if self.misspellings is not None:
            text = self.misspellings.correct(text)
        matches = list(self._roles_regex.finditer(text))
        if not matches:
            return self._no_role
        has_breaks = _MAY_BREAK.search(text) is not None
        if len(matches) == 1 and not has_breaks:  # the common case, without the bookkeeping below
            match = matches[0]
            role = self._role_by_group[match.lastgroup]
            if role.level is None:
                return self._decision[role.id]
            veto = self._veto(text[: match.start()].strip(), text[match.end() :].strip())
            return self._decision[veto or role.id]
        if has_breaks:
            breaks = [(m.start(), m.end()) for m in CLAUSE_BREAK.finditer(text)]
            break_starts, break_ends = [b[0] for b in breaks], [b[1] for b in breaks]
        else:
            break_starts = break_ends = []
        best: RoleRule | None = None
        not_senior_rule = None
        before = ""
        last = len(matches) - 1
        for i, match in enumerate(matches):
            start, end = match.span()
            clause_start, clause_end = _clause(break_starts, break_ends, start, end, len(text))
            before = self._before_region(text, matches, i, clause_start, before)
            role = self._role_by_group[match.lastgroup]
            if role.level is None:
                not_senior_rule = not_senior_rule or role.id
                continue
            if best is not None and _RANK[role.level] <= _RANK[best.level]:
                continue
            next_start = matches[i + 1].start() if i < last else len(text)
            after = text[end : min(next_start, clause_end)]
            if i < last and next_start <= clause_end and "," in after:
                after = after[: after.rfind(",")]  # words after the last comma qualify the next role
            veto = self._veto(before, after.strip())
            if veto is not None:
                not_senior_rule = veto
                continue
            best = role
        if best is None:
            return self._decision[not_senior_rule] if not_senior_rule else self._no_role
        return self._decision[best.id]

    @staticmethod
    def _before_region(text: str, matches: list[re.Match], i: int, clause_start: int, previous_before: str) -> str:
        """The words that qualify role i: back to the previous role or the clause start.

        Roles joined by nothing but "&", "and", "/" or a comma share their qualifiers
        ("Retired President & CEO", "Assistant to the CEO and CFO").
        """
        start = matches[i].start()
        if i == 0:
            return text[clause_start:start].strip()
        previous_end = matches[i - 1].end()
        between = text[previous_end:start]
        if between.strip() in _PURE_JOINS:
            return previous_before
        before = text[max(previous_end, clause_start) : start]
        if previous_end >= clause_start and "," in before:
            before = before[before.rfind(",") + 1 :]  # words before the comma belong to the previous role
        return before.strip()

    def _veto(self, before: str, after: str) -> str | None:
        if before and self._before_regex is not None:
            found = self._before_regex.search(before)
            if found:
                return self._before_ids[found.lastgroup]
        if after and self._after_regex is not None:
            found = self._after_regex.search(after)
            if found:
                return self._after_ids[found.lastgroup]
        return None


def _combine(vetoes) -> tuple[re.Pattern | None, dict[str, str]]:
    """One alternation for a list of vetoes: a single scan per region instead of one per veto."""
    vetoes = list(vetoes)
    if not vetoes:
        return None, {}
    ids = {f"v{i}": veto.id for i, veto in enumerate(vetoes)}
    return re.compile("|".join(f"(?P<v{i}>{veto.regex.pattern})" for i, veto in enumerate(vetoes))), ids


def _clause(starts: list[int], ends: list[int], start: int, end: int, length: int) -> tuple[int, int]:
    """The clause around [start, end): from the last break before it to the first after it."""
    if not starts:
        return 0, length
    i = bisect.bisect_right(ends, start)
    j = bisect.bisect_left(starts, end)
    return (ends[i - 1] if i else 0), (starts[j] if j < len(starts) else length)


def _entry_basics(entry, seen: set[str], *, kind: str) -> tuple[str, str]:
    if not isinstance(entry, dict):
        raise RulesetError(f"every {kind} must be a mapping with 'id' and 'pattern', got {entry!r}")
    rule_id, pattern = entry.get("id"), entry.get("pattern")
    if not isinstance(rule_id, str) or not rule_id:
        raise RulesetError(f"a {kind} has no 'id': {entry!r}")
    if rule_id in seen:
        raise RulesetError(f"{kind} id {rule_id!r} is used twice")
    seen.add(rule_id)
    if not isinstance(pattern, str) or not pattern:
        raise RulesetError(f"{kind} {rule_id}: 'pattern' must be a non-empty string")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise RulesetError(f"{kind} {rule_id}: bad pattern: {exc}") from None
    if compiled.groupindex:
        raise RulesetError(f"{kind} {rule_id}: named groups (?P<…>) are not allowed in patterns")
    return rule_id, pattern


def _examples(entry: dict, rule_id: str) -> list[tuple[str, str, str]]:
    examples = entry.get("examples") or {}
    if not isinstance(examples, dict):
        raise RulesetError(f"{rule_id}: 'examples' must map a level (csuite, vp, none) to a list of titles")
    found = []
    for level, titles in examples.items():
        if level not in (*LEVELS, "none") or not isinstance(titles, list):
            raise RulesetError(f"{rule_id}: examples must be lists under csuite, vp or none (got {level!r})")
        found += [(rule_id, level, str(title)) for title in titles]
    return found


def _misspellings(entry) -> Misspellings | None:
    """The optional `misspellings` section: {words: [...], never: [...], min_length: 5}."""
    if entry is None:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("words"), list):
        raise RulesetError(
            "'misspellings' must be a mapping with a 'words' list (and optionally 'never', 'min_length')"
        )
    words, never = entry["words"], entry.get("never") or []
    min_length = entry.get("min_length", 5)
    if not isinstance(never, list) or not isinstance(min_length, int) or min_length < 4:
        raise RulesetError("misspellings: 'never' must be a list and 'min_length' a whole number of at least 4")
    for word in [*words, *never]:
        if not (isinstance(word, str) and word.isalpha() and word == normalise_title(word)):
            raise RulesetError(f"misspellings: {word!r} must be one word as titles are read (lower case, no accents)")
    return Misspellings(words, never, min_length=min_length)
