"""The one entry point for classifying titles, and the lifecycle of rulesets.

Each process keeps the active ruleset in memory. At most every CLASSIFICATION_RELOAD_SECONDS it
checks whether the shipped file changed or an operator activated another stored ruleset, and
loads it; a ruleset that fails validation is logged and the previous one stays active.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, transaction

from access.services import audit_record
from core.metrics import CLASSIFICATIONS, CLASSIFY_SECONDS

from . import selectors
from .engine import Classification, Ruleset, RulesetError
from .impact import LabelsBroken, ruleset_impact
from .models import ConfirmedLabel, StoredRuleset

logger = logging.getLogger(__name__)

__all__ = [
    "Classification",
    "LabelsBroken",
    "Ruleset",
    "RulesetError",
    "classify",
    "ruleset_active",
    "ruleset_impact",
    "ruleset_preload",
    "ruleset_reload",
]


@dataclass
class _Active:
    ruleset: Ruleset | None = None
    source: tuple | None = None  # what it was loaded from: ("file", path, mtime, size) or ("db", id, hash)
    checked_at: float = 0.0


_active = _Active()
_lock = threading.Lock()


def classify(title: str) -> Classification:
    """Level (csuite, vp or None), deciding rule and rules version for one job title."""
    started = time.perf_counter()
    result = ruleset_active().classify(title)
    CLASSIFY_SECONDS.observe(time.perf_counter() - started)
    CLASSIFICATIONS.labels(level=result.level or "none").inc()
    return result


def ruleset_active() -> Ruleset:
    if _active.ruleset is None or time.monotonic() - _active.checked_at > settings.CLASSIFICATION_RELOAD_SECONDS:
        ruleset_reload()
    return _active.ruleset


def ruleset_preload() -> Ruleset:
    """Load the active ruleset now: a worker's main process, before its pool forks. The first use
    after it checks the source again, so rules loaded while the database was away (the shipped
    file) give way to a stored ruleset at the first batch, not CLASSIFICATION_RELOAD_SECONDS later;
    unchanged rules are not loaded twice."""
    ruleset = ruleset_active()
    _active.checked_at = float("-inf")
    return ruleset


def ruleset_reload(*, force: bool = False) -> Ruleset:
    """Load the ruleset that should be active if it differs from the loaded one (or `force`)."""
    with _lock:
        source = _desired_source()
        if force or source != _active.source or _active.ruleset is None:
            try:
                _active.ruleset = _load(source)
                logger.info("classification ruleset %s active (from %s)", _active.ruleset.version, source[0])
            except (RulesetError, OSError) as exc:
                if _active.ruleset is None and source[0] == "db":
                    # Nothing loaded yet to keep (a process starting): the shipped file, rather than no
                    # rules at all — a ruleset stored before the rules ran on RE2 may use lookarounds.
                    logger.error("stored ruleset %s rejected, using the shipped file: %s", source[1], exc)
                    _active.ruleset = Ruleset.from_text(ruleset_shipped_text())
                elif _active.ruleset is None:
                    raise
                else:
                    logger.error("ruleset from %s rejected, keeping %s: %s", source, _active.ruleset.version, exc)
            _active.source = source
        _active.checked_at = time.monotonic()
        return _active.ruleset


def _desired_source() -> tuple:
    try:
        # A savepoint, so a failed look-up cannot poison a caller's transaction.
        with transaction.atomic():
            stored = selectors.stored_ruleset_active_key()
    except DatabaseError:  # no tables yet (first migrate) or the database is away: the file rules
        stored = None
    if stored is not None:
        return ("db", *stored)
    path = Path(settings.CLASSIFICATION_RULESET_PATH)
    stat = path.stat()
    return ("file", str(path), stat.st_mtime_ns, stat.st_size)


def _source_text(source: tuple) -> str:
    if source[0] == "db":
        return selectors.stored_ruleset_get(ruleset_id=source[1]).content
    return Path(source[1]).read_text(encoding="utf-8")


def _load(source: tuple) -> Ruleset:
    return Ruleset.from_text(_source_text(source))


def ruleset_shipped_text() -> str:
    return Path(settings.CLASSIFICATION_RULESET_PATH).read_text(encoding="utf-8")


def ruleset_active_text() -> str:
    """The text of the rules in force: the starting point for an operator's next version."""
    source = _desired_source()
    return _source_text(source)


def ruleset_for_choice(choice: str) -> Ruleset:
    """'' = the active rules, 'file' = the shipped file, or a stored ruleset's id."""
    if not choice:
        return ruleset_active()
    if choice == "file":
        return Ruleset.from_text(ruleset_shipped_text())
    return Ruleset.from_text(selectors.stored_ruleset_get(ruleset_id=int(choice)).content)


def ruleset_store(
    *, content: str, change_note: str, user=None, via: str | None = None, activate: bool = False
) -> StoredRuleset:
    """Validate and save an operator's ruleset; raises RulesetError before anything is saved.
    Audited (`ruleset.store`, saying whether it was activated) when `via` names the operator's way in."""
    parsed = Ruleset.from_text(content)
    if not change_note.strip():
        raise RulesetError("a change note is required")
    if StoredRuleset.objects.filter(version=parsed.version).exists():
        raise RulesetError(f"version {parsed.version!r} is already stored: give the new rules a new version")
    with transaction.atomic():
        stored = StoredRuleset.objects.create(
            version=parsed.version,
            content=content,
            content_hash=parsed.content_hash,
            change_note=change_note.strip(),
            created_by=user,
        )
        if activate:
            ruleset_activate(stored=stored, via=None)  # one entry: the store says it was activated
        if via is not None:
            audit_record(user, "ruleset.store", via=via, target=f"ruleset {stored.version}",
                         activated=stored.is_active, change_note=stored.change_note)  # fmt: skip
    return stored


def ruleset_activate(*, stored: StoredRuleset, accepted: set[int] | None = None, user=None, via: str | None) -> None:
    """Make `stored` the ruleset in force. Refused (impact.LabelsBroken) when it gets a confirmed
    label wrong whose id is not in `accepted`: an operator accepts each one, knowingly.
    Audited (`ruleset.activate`) unless `via` is None (ruleset_store's activation records itself)."""
    candidate = Ruleset.from_text(stored.content)  # still valid under this code's rules (e.g. after an upgrade)?
    broken = [c for c in ruleset_impact(candidate, ruleset_active()).broken if c.label_id not in (accepted or set())]
    if broken:
        raise LabelsBroken(broken)
    with transaction.atomic():
        StoredRuleset.objects.filter(is_active=True).exclude(pk=stored.pk).update(is_active=False)
        StoredRuleset.objects.filter(pk=stored.pk).update(is_active=True)
        stored.is_active = True
        if via is not None:
            audit_record(user, "ruleset.activate", via=via, target=f"ruleset {stored.version}",
                         accepted_broken_labels=sorted(accepted or ()))  # fmt: skip
        transaction.on_commit(lambda: ruleset_reload())


@dataclass(frozen=True)
class RulesetInForce:
    version: str
    content_hash: str
    origin: str  # "the shipped file classification/rulesets/default.yaml" or "stored ruleset #3"


def ruleset_in_force() -> RulesetInForce:
    """Which ruleset classifies titles now, for an operator: version, hash and where it came from."""
    ruleset = ruleset_reload()
    source = _active.source or ("file", settings.CLASSIFICATION_RULESET_PATH)
    if source[0] == "db" and ruleset.content_hash != source[2]:
        origin = f"the shipped file (stored ruleset #{source[1]} is active but could not be loaded: see the logs)"
    elif source[0] == "db":
        origin = f"stored ruleset #{source[1]}"
    else:
        path = Path(source[1])
        shown = path.relative_to(settings.BASE_DIR) if path.is_relative_to(settings.BASE_DIR) else path
        origin = f"the shipped file {shown}"
    return RulesetInForce(version=ruleset.version, content_hash=ruleset.content_hash, origin=origin)


def ruleset_deactivate_all(*, user, via: str) -> None:
    """Go back to the shipped ruleset file (audited: `ruleset.use_shipped_file`)."""
    with transaction.atomic():
        StoredRuleset.objects.filter(is_active=True).update(is_active=False)
        audit_record(user, "ruleset.use_shipped_file", via=via, target="the shipped ruleset file")
        transaction.on_commit(lambda: ruleset_reload())


def ruleset_reload_now(*, user, via: str) -> Ruleset:
    """An operator's reload of the rules in this process (audited: `ruleset.reload`)."""
    ruleset = ruleset_reload(force=True)
    with transaction.atomic():
        audit_record(user, "ruleset.reload", via=via, target=f"ruleset {ruleset.version}")
    return ruleset


def confirmed_label_save(label: ConfirmedLabel, *, user, via: str) -> None:
    """Add or change a confirmed label (audited: `label.add` / `label.change`)."""
    with transaction.atomic():
        created = label._state.adding
        if created and getattr(user, "is_authenticated", False):
            label.created_by = user
        label.save()
        audit_record(user, "label.add" if created else "label.change", via=via, target=label,
                     level=label.level, function=label.function)  # fmt: skip


def confirmed_label_delete(label: ConfirmedLabel, *, user, via: str) -> None:
    """Delete a confirmed label (audited: `label.delete`)."""
    with transaction.atomic():
        audit_record(user, "label.delete", via=via, target=label, level=label.level)
        label.delete()


def titles_try(*, titles: list[str], ruleset: Ruleset | None = None) -> list[tuple[str, Classification]]:
    ruleset = ruleset or ruleset_active()
    return [(title, ruleset.classify_uncached(title)) for title in titles if title.strip()]
