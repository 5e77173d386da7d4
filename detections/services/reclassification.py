"""Stored members re-evaluated under the active ruleset (after an operator changes the rules)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from classification.services import ruleset_active

from ..locks import members_lock
from ..models import SeniorMember
from ..selectors import CORRECTION_VERSION
from .members import MemberChange, MemberStates

_CHUNK = 1000


@dataclass(frozen=True)
class LevelChange:
    user_id: str
    username: str
    title: str
    old_level: str
    new_level: str | None  # None: no longer senior, the member is removed
    rule: str


def members_reclassify(*, dry_run: bool, user_ids: list[str] | None = None) -> tuple[list[LevelChange], int]:
    """Re-evaluate stored members under the active ruleset; returns (level changes, members read).

    Members whose level or rules version differ are moved by the state machine with their own
    title, exactly as a webhook carrying that title would move them: removals, promotions (with
    their detection), demotions, or just the new rules version. A member whose title changed
    meanwhile is left alone: its newer event was classified already; so is a corrected member
    (MemberPin), until their title changes.
    """
    ruleset = ruleset_active()
    members = SeniorMember.objects.order_by("pk")
    if user_ids is not None:
        members = members.filter(pk__in=user_ids)
    changes, titles, read = [], {}, 0
    for member in members.only("user_id", "username", "title", "level", "rules_version").iterator(chunk_size=2000):
        read += 1
        if member.rules_version == CORRECTION_VERSION:  # an operator's correction holds, not the rules
            continue
        result = ruleset.classify(member.title)
        if result.level != member.level:
            changes.append(
                LevelChange(member.user_id, member.username, member.title, member.level, result.level, result.rule)
            )
        if result.level != member.level or member.rules_version != ruleset.version:
            titles[member.user_id] = member.title
    if not dry_run:
        pending = sorted(titles)
        for start in range(0, len(pending), _CHUNK):
            _members_apply_own_titles({uid: titles[uid] for uid in pending[start : start + _CHUNK]})
    return changes, read


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
