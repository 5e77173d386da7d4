"""Seniority rules: parse and validate a ruleset, then classify titles with it.

A ruleset (see rulesets/default.yaml) lists role patterns and vetoes. All role patterns are
compiled into one alternation, so a title costs one regex scan plus a veto check per role found.

Every pattern of a ruleset — the shipped file's and an operator's alike — runs on RE2
(google-re2), whose matching time is linear in the title: a pattern such as `(?:x+x+)+y`, which
held a worker for minutes under Python's backtracking `re`, costs microseconds. What RE2 cannot run
(lookarounds, backreferences) is refused when the ruleset is loaded or saved, naming the pattern;
vetoes say "unless followed/preceded by" with `unless_after` / `unless_before` instead. The only
`re` patterns left in the package are the code's own fixed ones (normalise.py, misspellings.py),
never text from a ruleset, so one engine runs everything an operator writes.
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
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache

import re2
import yaml

from .functions import FUNCTIONS, NO_FUNCTION
from .misspellings import Misspellings
from .normalise import AND_WORDS, CLAUSE_BREAK, letters_fold, normalise_title
from .normalise import MAY_BREAK as _MAY_BREAK
from .scripts import hebrew_acronyms_join

LEVELS = ("csuite", "vp")
_RANK = {"csuite": 2, "vp": 1}
VETO_PLACES = ("before", "after", "around")
NO_ROLE_RULE = "default.no-senior-role"
# A ruleset is refused when a 10 KB probe title takes longer than this. The target is 10 ms
# (benchmarks/classification.py measures it); the guard's margin keeps it from tripping on a
# busy machine while still catching backtracking, which costs seconds, not milliseconds.
MAX_SECONDS_PER_PROBE = 0.100
CACHE_SIZE = 65_536
# A title is read up to its 100th role: each role found costs a call into RE2 (about 3 µs), and a
# 10 KB title of "vp vp vp …" holds 3,413 of them. No real title holds a hundred roles.
MAX_ROLES_READ = 100
_ROLE_TEXTS_KEPT = 10_000
_EMPLOYER_FOLLOWS = re.compile(r"(?:^| )(?:,|at|\|)(?: |$)")
_UNKNOWN = object()
_SPEED_CHECK_TIMEOUT_SECONDS = 5.0
# A fresh interpreter also starts Python and compiles the ruleset (0.7 s here) before it probes.
_FRESH_PROBE_TIMEOUT_SECONDS = 20.0
_PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TOO_SLOW = "a pattern is too slow: a 10 KB probe title took over 100 ms"
_NEVER_FINISHED = "a pattern backtracks catastrophically: a 10 KB probe title did not finish"
_PROBE_WORDS = (
    "chief ", "vice ", "vp ", "president ", "former ", "assistant to the ", "a", "c.e.o. / ", "ceo & ",
    "总裁", "副总裁 ", "首席", "代表取締役社長", "부사장", "генеральный директор ",
)  # fmt: skip
# "and" in the languages the rules read (normalise.AND_WORDS), Korean's, and the Chinese and
# Japanese ones written without spaces: 首席执行官兼总裁, 社長兼CEO.
_PURE_JOINS = frozenset({"&", "|", ",", "", *AND_WORDS, "겸", "및", "兼", "暨", "及", "和", "与"})
# Whole words: a role starts after a space or at the start and ends before one or at the end
# (normalised text separates words by spaces alone: every other character that is not a letter or
# a digit became a space, or a separator written " , ", " | ", " & "). Both are consumed (RE2 has
# no lookaround), so _role_matches resumes each search on the character before the last match's
# end. Chinese and Japanese write no spaces between words, and Korean compounds join them: a CJK
# character counts as a boundary too, so 总裁 is found in 公司总裁 (and where CJK text meets a
# Latin letter, normalisation puts a space). Kept this small on purpose: "not a letter or digit"
# as a Unicode class is a thousand RE2 instructions, and matching time grows with them.
_NOT_WORD = r"[ \p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\x{30fc}]"
_NOT_ASCII = re.compile(r"[^\x00-\x7f]+")
_RANGE = re.compile(r"([^\\])-([^\]\\])")
_RE2_CANNOT = (
    ("(?=", "lookahead (?=…)"),
    ("(?!", "negative lookahead (?!…)"),
    ("(?<=", "lookbehind (?<=…)"),
    ("(?<!", "negative lookbehind (?<!…)"),
    ("(?>", "atomic groups (?>…)"),
    ("(?#", "comments (?#…)"),
    *((f"escape sequence: \\{digit}", "backreferences (\\1)") for digit in "123456789"),
    ("\\Z", "\\Z (write \\z)"),
    ("repetition operator", "possessive quantifiers (*+, ++, ?+)"),
    ("repetition size", "repetition counts above 1000"),
)


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is reported to the operator, not logged to stderr
    return options


_RE2_OPTIONS = _re2_options()
_UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED


def _spans(regex: re2._Regexp, data: bytes, pos: int = 0) -> list[tuple[int, int]] | None:
    """Byte spans of each group of the first match in UTF-8 `data` from `pos`, or None.

    The wrapper's `search` encodes the whole text again on every call, so searching a title from
    each of its n roles would cost n times its length; the titles are encoded once instead and the
    compiled RE2 object of the pinned google-re2 is asked directly (tests/classification cover it).
    """
    spans = regex._regexp.Match(_UNANCHORED, data, pos, len(data))
    return None if spans[0][0] < 0 else spans


def _char_start(data: bytes, pos: int) -> int:
    """`pos`, moved back to the first byte of the UTF-8 character it is in."""
    while 0 < pos < len(data) and data[pos] & 0xC0 == 0x80:
        pos -= 1
    return pos


def _char_next(data: bytes, pos: int) -> int:
    """The first byte of the UTF-8 character after the one starting at `pos`."""
    pos += 1
    while pos < len(data) and data[pos] & 0xC0 == 0x80:
        pos += 1
    return pos


def _char_offsets(data: bytes, offsets: list[int]) -> dict[int, int]:
    """The character offset of each of the given byte offsets (character starts) of UTF-8 `data`:
    decoded piece by piece between them, so a long title costs one pass, not one per offset."""
    chars, previous, count = {}, 0, 0
    for offset in sorted(set(offsets)):
        count += len(data[previous:offset].decode())
        chars[offset], previous = count, offset
    return chars


def _require_google_re2() -> None:
    """Older wrappers also named `re2` (pyre2, re2) fall back to Python's backtracking `re` for
    patterns RE2 cannot run; google-re2 raises instead. Refuse to start on such a module."""
    try:
        re2.compile("(?=x)", _RE2_OPTIONS)
    except re2.error:
        return
    raise ImportError(f"the re2 module at {re2.__file__} accepts lookaheads: it is not google-re2 (requirements.txt)")


_require_google_re2()


class RulesetError(ValueError):
    """A ruleset that cannot be used; the message says why. The previous ruleset stays active."""


@dataclass(frozen=True)
class Classification:
    level: str | None  # "csuite", "vp" or None
    rule: str  # the role or veto that decided, or NO_ROLE_RULE
    version: str
    function: str | None = None  # what a senior executive runs (functions.FUNCTIONS); None when not senior

    @property
    def is_senior(self) -> bool:
        return self.level is not None


@dataclass(frozen=True)
class RoleRule:
    id: str
    level: str | None
    function: str | None = None  # when the title names none (top executives: general)
    pattern: str = field(default="", repr=False)


@dataclass(frozen=True)
class VetoRule:
    id: str
    where: str
    regex: re2._Regexp
    # A match does not count when this matches the region's words before it / after it: what a
    # lookbehind / lookahead would say, in patterns RE2 runs.
    unless_before: re2._Regexp | None = None
    unless_after: re2._Regexp | None = None

    def cancelled(self, region: bytes, start: int, end: int) -> bool:
        """Whether the match at bytes [start, end) of the UTF-8 region does not count."""
        return (self.unless_before is not None and _spans(self.unless_before, region[:start]) is not None) or (
            self.unless_after is not None and _spans(self.unless_after, region[end:]) is not None
        )


@dataclass(eq=False)
class Ruleset:
    version: str
    description: str
    content_hash: str
    roles: tuple[RoleRule, ...]
    vetoes: tuple[VetoRule, ...]
    # Every role's pattern in one alternation, without groups: where the next role is (see _role_matches).
    _roles_regex: re2._Regexp = field(repr=False)
    misspellings: Misspellings | None = field(default=None, repr=False)
    # The `functions:` section, None without one: see _functions.
    _functions: FunctionRules | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Which role that is: each role's pattern as an RE2 set (which match, one scan, no submatch),
        # and on its own with the role as group 1 (where exactly).
        role_set = re2.Set.SearchSet(_RE2_OPTIONS)
        for role in self.roles:
            role_set.Add(_wrapped(role.pattern, "{}"))
        role_set.Compile()
        self._roles_in = _set_matcher(role_set)
        self._role_regexes = tuple(_compile(_wrapped(role.pattern, "({})"), role.id)._regexp for role in self.roles)
        # Decisions are immutable: build each one once instead of once per title (a senior one
        # once per role and function, on first use).
        self._senior_decisions: dict[tuple[str, str], Classification] = {}
        # The function a role's own words name ("chief financial officer": finance), by those words:
        # roles are a small vocabulary, so most titles find theirs here.
        self._role_text_functions: dict[str, str | None] = {}
        self._decision = {role.id: Classification(role.level, role.id, self.version) for role in self.roles}
        self._decision.update({veto.id: Classification(None, veto.id, self.version) for veto in self.vetoes})
        self._no_role = Classification(None, NO_ROLE_RULE, self.version)
        self._before_vetoes = tuple(v for v in self.vetoes if v.where in ("before", "around"))
        self._after_vetoes = tuple(v for v in self.vetoes if v.where in ("after", "around"))
        self._before_set = _combine(self._before_vetoes)
        self._after_set = _combine(self._after_vetoes)
        self.classify = lru_cache(maxsize=CACHE_SIZE)(self.classify_uncached)

    # --- loading ------------------------------------------------------------------------------
    @classmethod
    def from_text(cls, text: str, *, probe_speed: bool = True) -> Ruleset:
        """Parse, compile and check a ruleset; raise RulesetError naming the first problem.

        `probe_speed=False` is for classification.speed_probe only, which is the speed check."""
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
        roles, parts, examples = [], [], []
        for entry in roles_data:
            rule_id, pattern = _entry_basics(entry, seen, kind="role")
            level = entry.get("level")
            if level not in (*LEVELS, "none"):
                raise RulesetError(f"role {rule_id}: unknown level {level!r} (use csuite, vp or none)")
            function = entry.get("function")
            if function is not None and function not in FUNCTIONS:
                raise RulesetError(f"role {rule_id}: unknown function {function!r} (use one of {', '.join(FUNCTIONS)})")
            roles.append(RoleRule(rule_id, None if level == "none" else level, function, _fold(pattern)))
            parts.append(f"(?:{pattern})")
            examples += _examples(entry, rule_id)
        vetoes = []
        for entry in vetoes_data:
            rule_id, pattern = _entry_basics(entry, seen, kind="veto")
            where = entry.get("where", "before")
            if where not in VETO_PLACES:
                raise RulesetError(f"veto {rule_id}: 'where' must be one of {', '.join(VETO_PLACES)}")
            unless = {key: _unless(entry, key, rule_id) for key in ("unless_before", "unless_after")}
            vetoes.append(VetoRule(rule_id, where, _compile(pattern, f"veto {rule_id}"), **unless))
            examples += _examples(entry, rule_id)

        functions, function_examples = _functions(data.get("functions"), seen)
        ruleset = cls(
            version=str(version).strip(),
            description=str(data.get("description") or "").strip(),
            content_hash=hashlib.sha256(text.encode()).hexdigest(),
            roles=tuple(roles),
            vetoes=tuple(vetoes),
            _roles_regex=_compile(_wrapped("|".join(parts), "(?:{})"), "the roles together"),
            misspellings=_misspellings(data.get("misspellings")),
            _functions=functions,
        )
        if isinstance(data.get("misspellings"), dict):
            examples += _examples(data["misspellings"], "misspellings")
        ruleset._check_examples(examples)
        ruleset._check_function_examples(function_examples)
        if probe_speed:
            ruleset._check_speed(text)
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

    def _check_function_examples(self, examples: list[tuple[str, str, str]]) -> None:
        failures = []
        for rule_id, expected, title in examples:
            got = self.classify_uncached(title)
            if got.function != expected:
                shown = f"{got.level}/{got.function}" if got.level else f"not senior ({got.rule})"
                failures.append(f"{title!r} (example of {rule_id}) should be a senior {expected} title, is {shown}")
        if failures:
            raise RulesetError("function examples do not hold: " + "; ".join(failures[:5]))

    def _check_speed(self, text: str) -> None:
        """Refuse patterns that backtrack catastrophically on long or repetitive titles.

        RE2 keeps matching linear in the title, but its cost still grows with the patterns (a huge
        alternation, a large counted repetition). A match cannot be interrupted, so the probe titles
        run in a forked child that is killed when it overruns: a second here, not a hung process.
        """
        if not hasattr(os, "fork"):
            self._speed_probe(exit=False)
            return
        if self._speed_probe_forked():
            return
        # fork() copies only the calling thread: a lock that another thread held at that moment
        # (in libc, RE2, or a preloaded library such as libfaketime) stays locked in the child, which
        # then hangs through no fault of the patterns. A fresh interpreter inherits no locks; it decides.
        self._speed_probe_fresh(text)

    def _speed_probe_forked(self) -> bool:
        """True when a forked child ran the probes in time; False when it overran; raises when slow."""
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
                return False
            time.sleep(0.005)
        if os.waitstatus_to_exitcode(waited[1]) != 0:
            raise RulesetError(_TOO_SLOW)
        return True

    @staticmethod
    def _speed_probe_fresh(text: str) -> None:
        command = [sys.executable, "-m", "classification.speed_probe"]
        try:
            done = subprocess.run(
                command, input=text, capture_output=True, text=True, cwd=_PROJECT_ROOT,
                timeout=_FRESH_PROBE_TIMEOUT_SECONDS, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise RulesetError(_NEVER_FINISHED) from None
        if done.returncode == 3:
            raise RulesetError(_TOO_SLOW)
        if done.returncode != 0:
            raise RulesetError(f"the speed check could not run ({done.returncode}): {done.stderr.strip()[-500:]}")

    def _speed_probe(self, *, exit: bool) -> None:
        rng = random.Random(0)
        noise = "".join(rng.choice(string.ascii_letters + " ,/&-.") for _ in range(10_000))
        for words in _PROBE_WORDS + (noise,):
            title = (words * (10_000 // len(words) + 1))[:10_000]
            if not any(self._probe_within_limit(title) for _ in range(3)):
                # Three tries: a slow pattern is slow every time, a busy host stalls one try.
                if exit:
                    os._exit(3)
                raise RulesetError(_TOO_SLOW)
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
        matches = self._role_matches(text)
        if not matches:
            return self._no_role
        has_breaks = _MAY_BREAK.search(text) is not None
        if len(matches) == 1 and not has_breaks:  # the common case, without the bookkeeping below
            start, end, role = matches[0]
            if role.level is None:
                return self._decision[role.id]
            before, after = text[:start].strip(), text[end:].strip()
            veto = self._veto(before, after)
            if veto is not None:
                return self._decision[veto]
            return self._senior(role, self._function(text, start, end, before, after, role))
        if has_breaks:
            breaks = [(m.start(), m.end()) for m in CLAUSE_BREAK.finditer(text)]
            break_starts, break_ends = [b[0] for b in breaks], [b[1] for b in breaks]
        else:
            break_starts = break_ends = []
        best: RoleRule | None = None
        best_at: tuple[int, int, str, str] = (0, 0, "", "")
        not_senior_rule = None
        not_held: list[tuple[int, int]] = []  # roles vetoed or not senior: their words say nothing of the holder
        before = ""
        last = len(matches) - 1
        for i, (start, end, role) in enumerate(matches):
            clause_start, clause_end = _clause(break_starts, break_ends, start, end, len(text))
            before = self._before_region(text, matches, i, clause_start, before)
            if role.level is None:
                not_senior_rule = not_senior_rule or role.id
                not_held.append((start, end))
                continue
            if best is not None and _RANK[role.level] <= _RANK[best.level]:
                continue
            next_start = matches[i + 1][0] if i < last else len(text)
            after = text[end : min(next_start, clause_end)]
            if i < last and next_start <= clause_end and "," in after:
                after = after[: after.rfind(",")]  # words after the last comma qualify the next role
            after = after.strip()
            veto = self._veto(before, after)
            if veto is not None:
                not_senior_rule = veto
                not_held.append((start, end))
                continue
            best, best_at = role, (start, end, before, after)
        if best is None:
            return self._decision[not_senior_rule] if not_senior_rule else self._no_role
        return self._senior(best, self._function(text, *best_at, best, elsewhere=_without(text, not_held)))

    def _senior(self, role: RoleRule, function: str) -> Classification:
        decision = self._senior_decisions.get((role.id, function))
        if decision is None:
            decision = Classification(role.level, role.id, self.version, function)
            self._senior_decisions[(role.id, function)] = decision
        return decision

    def _function(
        self, text: str, start: int, end: int, before: str, after: str, role: RoleRule, *, elsewhere: str = ""
    ) -> str:
        """What the deciding role's holder runs: named in the role itself ("chief financial officer",
        首席财务官), in its own words after it or before it, the role's default (a CEO runs the
        company), or `elsewhere` in the title ("VP | Engineering"; the title without the roles it
        says nobody here holds, such as the CEO of "VP, Office of the CEO"); `other` when nothing
        says. With one role and no clause break, before and after are the rest of the title."""
        if self._functions is None:
            return role.function or NO_FUNCTION
        role_text = text[start:end]
        found = self._role_text_functions.get(role_text, _UNKNOWN)
        if found is _UNKNOWN:
            found = self._function_in(role_text)
            if len(self._role_text_functions) < _ROLE_TEXTS_KEPT:
                self._role_text_functions[role_text] = found
        if found is not None:
            return found
        if role.function is not None:
            # A top executive runs the whole; the words next to the role may narrow it ("Technischer
            # Geschäftsführer", "Geschäftsführer Vertrieb", "заместитель генерального директора по
            # финансам"), but past a comma or "at" they are usually the employer ("President, Acme
            # Marketing Group", "President at Legal Zoom").
            for region in (_EMPLOYER_FOLLOWS.split(after, maxsplit=1)[0], _EMPLOYER_FOLLOWS.split(before)[-1]):
                if region and (found := self._function_in(region)) is not None:
                    return found
            return role.function
        for region in (after, before):
            if region and (found := self._function_in(region)) is not None:
                return found
        if elsewhere and (found := self._function_in(elsewhere)) is not None:
            return found
        return NO_FUNCTION

    def _function_in(self, region: str) -> str | None:
        return self._functions.find(region.encode())

    def _role_matches(self, text: str) -> list[tuple[int, int, RoleRule]]:
        """(start, end, role) of each role found, left to right, as `finditer` would give them."""
        data = text.encode()
        found = []
        pos, size = 0, len(data)
        match = self._roles_regex._regexp.Match  # _spans, inlined: a hot loop
        while pos < size and len(found) < MAX_ROLES_READ and (span := match(_UNANCHORED, data, pos, size)[0])[0] >= 0:
            start, end, role = self._role_at(data, *span)
            found.append((start, end, role))
            # The boundary after this role was consumed: the next search starts on the role's last
            # character, so a role right after the next non-word character is found.
            pos = end - 1 if data[end - 1] < 0x80 else _char_start(data, end - 1)
            if pos <= start:  # a role of one character: past it, so the scan moves on
                pos = _char_next(data, start)
        if found and len(data) != len(text):  # not ASCII: byte offsets to character offsets
            chars = _char_offsets(data, [offset for start, end, _ in found for offset in (start, end)])
            found = [(chars[start], chars[end], role) for start, end, role in found]
        return found

    def _role_at(self, data: bytes, start: int, end: int) -> tuple[int, int, RoleRule]:
        """The role the alternation matched at data[start:end] (with the boundaries it consumed),
        and the role's own span: the first listed of those whose own match starts there.

        The alternation has no groups, so finding a role costs a scan and no submatch (whose cost
        grows with the size of all the roles' patterns together); the set and one role's pattern
        then say which role it was and where, each a small program.
        """
        hits = sorted(self._roles_in(data[start:end]))
        best = None
        for hit in hits:  # roles in the order listed
            spans = self._role_regexes[hit].Match(_UNANCHORED, data, start, len(data))
            if spans[0][0] == start:
                best = (spans[1][0], spans[1][1], self.roles[hit])
                break
        if best is None:  # cannot happen: the alternation matched one of these roles there
            raise RuntimeError(f"no role of the ruleset matches where the roles matched: {data[start:end]!r}")
        return best

    @staticmethod
    def _before_region(text: str, matches: list[tuple], i: int, clause_start: int, previous_before: str) -> str:
        """The words that qualify role i: back to the previous role or the clause start.

        Roles joined by nothing but "&", "and", "/" or a comma share their qualifiers
        ("Retired President & CEO", "Assistant to the CEO and CFO").
        """
        start = matches[i][0]
        if i == 0:
            return text[clause_start:start].strip()
        previous_end = matches[i - 1][1]
        between = text[previous_end:start]
        if between.strip() in _PURE_JOINS:
            return previous_before
        before = text[max(previous_end, clause_start) : start]
        if previous_end >= clause_start and "," in before:
            before = before[before.rfind(",") + 1 :]  # words before the comma belong to the previous role
        return before.strip()

    def _veto(self, before: str, after: str) -> str | None:
        if before and self._before_set is not None:
            found = _veto_in(before, self._before_set, self._before_vetoes)
            if found:
                return found
        if after and self._after_set is not None:
            return _veto_in(after, self._after_set, self._after_vetoes)
        return None


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with the given spans (left to right) cut out, the pieces kept apart."""
    pieces, last = [], 0
    for start, end in spans:
        pieces.append(text[last:start])
        last = end
    return " | ".join([*pieces, text[last:]])


def _wrapped(pattern: str, shape: str) -> str:
    """A pattern as whole words (see _NOT_WORD), in `shape` ("({})" makes the role group 1)."""
    return f"(?:^|{_NOT_WORD}){shape.format(pattern)}(?:{_NOT_WORD}|$)"


def _veto_in(region: str, any_of, vetoes: tuple[VetoRule, ...]) -> str | None:
    """The veto that decides a region: the leftmost match that counts, the first listed at that place.

    One scan of the set says which vetoes match at all (most regions: none); each of those is
    then searched on its own for its first match that its `unless_before` / `unless_after` does
    not cancel, which is what a lookaround inside one alternation would have chosen.
    """
    data = region.encode()
    hits = any_of(data)
    if not hits:
        return None
    best: tuple[int, int, str] | None = None
    for order in hits:
        veto = vetoes[order]
        pos = 0
        while pos <= len(data) and (spans := _spans(veto.regex, data, pos)) is not None:
            if not veto.cancelled(data, *spans[0]):
                best = min(best or (spans[0][0], order, veto.id), (spans[0][0], order, veto.id))
                break
            pos = _char_next(data, spans[0][0])
    return best[2] if best else None


def _combine(vetoes: tuple[VetoRule, ...]):
    """One RE2 set for a list of vetoes: a single scan per region instead of one per veto."""
    if not vetoes:
        return None
    any_of = re2.Set.SearchSet(_RE2_OPTIONS)
    for veto in vetoes:
        any_of.Add(veto.regex.pattern)
    any_of.Compile()
    return _set_matcher(any_of)


def _set_matcher(any_of: re2.Set):
    """The compiled set's own Match (bytes in, the matching patterns' numbers out), called directly:
    the wrapper's type check and conversion cost as much as the scan of a short title."""
    return any_of._set.Match


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
    if _compile(pattern, f"{kind} {rule_id}").groupindex:
        raise RulesetError(f"{kind} {rule_id}: named groups (?P<…>) are not allowed in patterns")
    return rule_id, pattern


@dataclass(frozen=True)
class FunctionRules:
    """The `functions:` patterns, each whole words like roles. In a region the leftmost match wins,
    and where two start at the same place, the one listed first.

    Asked first as an RE2 set, which says which entries match with one scan of the region and no
    submatch: the cost of finding submatches grows with the size of the compiled patterns, and a
    section for two dozen languages compiles to thousands of instructions. Only where several
    entries match is each one asked where (one small pattern each).
    """

    functions: tuple[str, ...]
    regexes: tuple[re2._Regexp, ...]
    any_of: object  # _set_matcher of the entries' set

    def find(self, data: bytes) -> str | None:
        hits = self.any_of(data)
        if not hits:
            return None
        if len(hits) == 1:
            return self.functions[hits[0]]
        first = min((_spans(self.regexes[hit], data)[0][0], hit) for hit in hits)
        return self.functions[first[1]]


def _functions(entries, seen: set[str]) -> tuple[FunctionRules | None, list]:
    """The `functions:` section, checked and compiled; and its examples."""
    if entries is None:
        return None, []
    if not isinstance(entries, list) or not entries:
        raise RulesetError("'functions' must be a non-empty list of {id, function, pattern, examples}")
    regexes, functions, examples = [], [], []
    any_of = re2.Set.SearchSet(_RE2_OPTIONS)
    for entry in entries:
        rule_id, pattern = _entry_basics(entry, seen, kind="function")
        function = entry.get("function")
        if function not in FUNCTIONS:
            raise RulesetError(f"function {rule_id}: unknown function {function!r} (use one of {', '.join(FUNCTIONS)})")
        wrapped = _wrapped(pattern, "(?:{})")
        regexes.append(_compile(wrapped, f"function {rule_id}"))
        any_of.Add(_fold(wrapped))
        functions.append(function)
        titles = entry.get("examples") or []
        if not isinstance(titles, list):
            raise RulesetError(f"function {rule_id}: 'examples' must be a list of senior titles with that function")
        examples += [(rule_id, function, str(title)) for title in titles]
    try:
        any_of.Compile()
    except re2.error as exc:  # each pattern compiled on its own above: only memory can fail here
        raise RulesetError(f"the functions together cannot be compiled: {exc}") from None
    return FunctionRules(tuple(functions), tuple(regexes), _set_matcher(any_of)), examples


def _fold(pattern: str, what: str = "a pattern") -> str:
    """A pattern's letters beyond ASCII folded as titles' are (normalise.letters_fold): 總裁 reads 总裁,
    and a Hebrew acronym's gershayim go (מנכ"ל reads מנכל).

    A range whose ends fold to other letters would change meaning ([À-ÿ] would read [a-y]): refused,
    so the author writes it in the letters titles are read in."""
    if pattern.isascii():
        return pattern
    for start, end in _RANGE.findall(pattern):
        if not (start + end).isascii() and (letters_fold(start) != start or letters_fold(end) != end):
            raise RulesetError(
                f"{what}: the range {start}-{end} in {pattern!r} would change meaning when its letters are "
                f"folded as titles are (to {letters_fold(start)}-{letters_fold(end)}): write it in lower case, "
                "without accents, in Simplified characters and katakana"
            )
    return hebrew_acronyms_join(_NOT_ASCII.sub(lambda match: letters_fold(match.group()), pattern))


def _compile(pattern: str, what: str) -> re2._Regexp:
    """Compile on RE2, or refuse naming the pattern and what RE2 cannot run in it."""
    try:
        return re2.compile(_fold(pattern, what), _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        cannot = next((name for marker, name in _RE2_CANNOT if marker in detail), None)
        why = f"RE2 cannot run {cannot}" if cannot else detail
        raise RulesetError(
            f"{what}: bad pattern {pattern!r}: {why} ({detail}). Patterns run on RE2, which matches in time linear "
            "in the title: no lookahead, lookbehind, backreferences (\\1) or atomic groups; a veto can say "
            "unless_before / unless_after instead (docs/classification.md)"
        ) from None


def _unless(entry: dict, key: str, rule_id: str) -> re2._Regexp | None:
    pattern = entry.get(key)
    if pattern is None:
        return None
    if not isinstance(pattern, str) or not pattern:
        raise RulesetError(f"veto {rule_id}: '{key}' must be a non-empty pattern")
    return _compile(pattern, f"veto {rule_id} ({key})")


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
