"""Stored members re-evaluated under the active ruleset (after an operator changes the rules)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from access.services import audit_record
from classification.services import ruleset_active
from core.querysets import keyset_chunks

from ..locks import members_lock
from ..models import SeniorMember
from ..selectors import CORRECTION_VERSION, member_pins
from .members import MemberChange, MemberStates

_CHUNK = 1000


@dataclass(frozen=True)
class ClassificationChange:
    """What the active rules would change of a member: their level, their function, or both."""

    user_id: str
    username: str
    title: str
    old_level: str
    new_level: str | None  # None: no longer senior, the member is removed
    rule: str
    old_function: str
    new_function: str | None  # None: no longer senior

    @property
    def level_changed(self) -> bool:
        return self.new_level != self.old_level

    @property
    def function_changed(self) -> bool:
        return self.new_level is not None and self.new_function != self.old_function


def members_reclassify(
    *, dry_run: bool, user_ids: list[str] | None = None, user=None, via: str | None = None
) -> tuple[list[ClassificationChange], int]:
    """Re-evaluate stored members under the active ruleset; returns (changes, members read).

    Members whose level, function or rules version differ are moved by the state machine with
    their own title, exactly as a webhook carrying that title would move them: removals,
    promotions (with their detection), demotions, a new function (no detection: what someone runs
    is not news by itself), or just the new rules version. A member whose title changed meanwhile
    is left alone: its newer event was classified already; so is a corrected member (MemberPin),
    until their title changes, except for a function their correction left to the rules, which
    follows the rules (members corrected before functions existed get theirs so).

    Applied in chunks, each in its own transaction; an operator's run (`via` "admin" or
    "command") is then audited once (`members.reclassify`). A dry run changes nothing and is not.
    """
    ruleset = ruleset_active()
    members = SeniorMember.objects.order_by("pk")
    if user_ids is not None:
        members = members.filter(pk__in=user_ids)
    changes, titles, corrected, read = [], {}, [], 0
    fields = ("user_id", "username", "title", "level", "function", "rules_version")
    for member in keyset_chunks(members.only(*fields), order=("pk",), key_of=lambda m: (m.pk,), chunk_size=2000):
        read += 1
        if member.rules_version == CORRECTION_VERSION:  # an operator's correction holds, not the rules
            corrected.append(member)
            continue
        result = ruleset.classify(member.title)
        change = ClassificationChange(
            member.user_id,
            member.username,
            member.title,
            member.level,
            result.level,
            result.rule,
            member.function,
            result.function,
        )
        if change.level_changed or change.function_changed:
            changes.append(change)
        if change.level_changed or change.function_changed or member.rules_version != ruleset.version:
            titles[member.user_id] = member.title
    for start in range(0, len(corrected), _CHUNK):
        for change in _corrected_function_changes(corrected[start : start + _CHUNK]):
            changes.append(change)
            titles[change.user_id] = change.title
    changes.sort(key=lambda change: change.user_id)
    if not dry_run:
        pending = sorted(titles)
        for start in range(0, len(pending), _CHUNK):
            _members_apply_own_titles({uid: titles[uid] for uid in pending[start : start + _CHUNK]})
        if via is not None:
            with transaction.atomic():
                audit_record(user, "members.reclassify", via=via, target=f"{read} members", changed=len(changes))
    return changes, read


def _corrected_function_changes(members: list[SeniorMember]) -> list[ClassificationChange]:
    """The corrected members whose pin leaves the function to the rules, and the rules now read
    another one in their title (the pin's decision, as processing would apply it)."""
    pins = member_pins(user_ids=[member.user_id for member in members])
    changes = []
    for member in members:
        pin = pins.get(member.user_id)
        if pin is None or pin.title != member.title.strip() or not pin.decision.is_senior:
            continue
        if pin.decision.function != member.function:
            changes.append(
                ClassificationChange(
                    member.user_id,
                    member.username,
                    member.title,
                    member.level,
                    pin.decision.level,
                    pin.decision.rule,
                    member.function,
                    pin.decision.function,
                )
            )
    return changes


def _members_apply_own_titles(titles: dict[str, str]) -> None:
    with transaction.atomic():
        members_lock(list(titles))
        states = MemberStates(titles, now=timezone.now())
        for user_id, title in titles.items():
            member = states.member(user_id)
            if member is None or member.title != title:
                continue
            change = MemberChange(user_id=user_id, title=title, username=member.username, seen_at=member.last_seen_at)
            states.apply(change)
        states.save()
