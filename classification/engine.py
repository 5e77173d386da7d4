"""Seniority classification: one entry point, `classify(title)`.

The rules live in a JSON ruleset (classification/rulesets/); this module only normalises
titles and evaluates the rules, so changing who counts as senior needs no code change.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

LEVELS = ("csuite", "vp")


class RulesetError(ValueError):
    """A ruleset that cannot be used: the previous one stays active."""


@dataclass(frozen=True)
class Classification:
    level: str | None
    rule: str | None
    version: str

    @property
    def is_senior(self) -> bool:
        return self.level is not None


@dataclass(frozen=True)
class _Rule:
    id: str
    level: str | None
    regex: re.Pattern


@dataclass(frozen=True)
class Ruleset:
    version: str
    content_hash: str
    vetoes: tuple[_Rule, ...]
    rules: tuple[_Rule, ...]

    @classmethod
    def from_text(cls, text: str) -> Ruleset:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise RulesetError(f"ruleset is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("version"), str) or not data["version"]:
            raise RulesetError("ruleset needs a non-empty string 'version'")
        return cls(
            version=data["version"],
            content_hash=hashlib.sha256(text.encode()).hexdigest(),
            vetoes=tuple(_compile(entry, veto=True) for entry in data.get("vetoes", [])),
            rules=tuple(_compile(entry, veto=False) for entry in data.get("rules", [])),
        )

    def classify(self, title: str) -> Classification:
        text = normalise_title(title)
        if not text:
            return Classification(None, None, self.version)
        for veto in self.vetoes:
            if veto.regex.search(text):
                return Classification(None, veto.id, self.version)
        for rule in self.rules:
            if rule.regex.search(text):
                return Classification(rule.level, rule.id, self.version)
        return Classification(None, None, self.version)


def _compile(entry: dict, *, veto: bool) -> _Rule:
    if not isinstance(entry, dict) or not entry.get("id") or not isinstance(entry.get("pattern"), str):
        raise RulesetError(f"every rule needs an 'id' and a 'pattern': {entry!r}")
    level = None if veto else entry.get("level")
    if not veto and level not in LEVELS:
        raise RulesetError(f"rule {entry['id']}: unknown level {level!r} (expected one of {', '.join(LEVELS)})")
    try:
        regex = re.compile(entry["pattern"])
    except re.error as exc:
        raise RulesetError(f"rule {entry['id']}: bad pattern: {exc}") from exc
    return _Rule(entry["id"], level, regex)


_SEPARATORS = re.compile(r"[\s/|,;:&+()\[\]{}_\-–—]+")


def normalise_title(title: str) -> str:
    """Lower case, accents removed, dots in abbreviations joined, separators to one space."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace(".", "")
    return _SEPARATORS.sub(" ", text).strip()


_lock = threading.Lock()
_active: Ruleset | None = None


def ruleset_load_file(path: str | Path) -> Ruleset:
    return Ruleset.from_text(Path(path).read_text(encoding="utf-8"))


def active_ruleset() -> Ruleset:
    global _active
    if _active is None:
        with _lock:
            if _active is None:
                _active = ruleset_load_file(settings.CLASSIFICATION_RULESET_PATH)
    return _active


def classify(title: str) -> Classification:
    return active_ruleset().classify(title)
