"""An operator corrects a member's level or function, or marks as a senior executive someone the rules
missed: applied at once through the member state machine, held while the title stays, remembered as a
confirmed label for the rules."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from access.services import audit_record
from classification.models import ConfirmedLabel, Function
from integrations.insided.client import CommunityClient, community_configured
from integrations.insided.errors import CommunityError, CommunityNotFound

from ..locks import members_lock
from ..models import MemberPin, SeniorMember
from ..payloads import MAX_NAME_LENGTH, MAX_TITLE_LENGTH, user_id_problem
from .members import MemberChange, MemberStates


class CorrectionError(ValueError):
    """The correction cannot apply; the message says why, for the operator. `field`: the input it
    is about (a form's or an API's field name), when it is about one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def member_correct(
    *,
    user_id: str,
    level: str | None = None,
    function: str | None = None,
    note: str = "",
    user=None,
    via: str,
) -> str:
    """Set a current senior member to `level` ("csuite", "vp" or "none": not a senior executive)
    and `function` (a classification.Function value; "" gives it back to the rules, which read it
    from the title); None keeps what the member has: a correction of the function alone keeps the
    level, one of the level alone keeps a function an operator pinned before and otherwise leaves
    the function to the rules. "none" has no function.

    The member is pinned to the correction (MemberPin) and their current title goes through the
    state machine as a webhook's would, so the same transitions follow: "none" removes them (their
    detections not yet sent are then left out of digests), VP → C-suite records a promotion,
    C-suite → VP leaves a pending promotion out, and a new function alone records nothing. The
    title, level and (when corrected) function become a confirmed label.
    Returns the outcome (RawEvent.Outcome).
    """
    if level is not None and level not in MemberPin.Level.values:
        raise CorrectionError(f"unknown level {level!r}: one of {', '.join(MemberPin.Level.values)}", field="level")
    _function_check(function)
    with transaction.atomic():
        members_lock([user_id])
        member = SeniorMember.objects.filter(pk=user_id).first()
        if member is None:
            raise CorrectionError(
                f"member {user_id} is not a current senior executive: a correction applies to a current member "
                "(add one the rules missed with “Add a senior executive the rules missed”)"
            )
        title = member.title.strip()
        level = member.level if level is None else level
        if level == MemberPin.Level.NONE:
            pinned_function = ""
        elif function is not None:
            pinned_function = function
        else:  # an earlier correction's function, for this title, holds
            earlier = MemberPin.objects.filter(pk=user_id, title=title).values_list("function", flat=True).first()
            pinned_function = earlier or ""
        _pin(user_id, title=title, level=level, function=pinned_function, note=note, user=user)
        states = MemberStates([user_id], now=timezone.now())
        change = MemberChange(user_id=user_id, title=title, username=member.username, seen_at=member.last_seen_at)
        outcome = states.apply(change)
        states.save()
        # The label's function changes only when this correction says one (or gives it back).
        confirmed = pinned_function if function is not None or level == MemberPin.Level.NONE else None
        _label(title, level=level, function=confirmed, note=note, user=user)
        corrected = states.member(user_id)
        audit_record(user, "member.correct", via=via, target=f"member {user_id} ({title[:100]})", level=level,
                     previous_level=member.level, function=corrected.function if corrected else "",
                     previous_function=member.function, outcome=outcome, note=note.strip())  # fmt: skip
    return outcome


def member_mark_senior(
    *,
    user_id: str,
    level: str,
    function: str,
    title: str = "",
    username: str = "",
    note: str = "",
    user=None,
    via: str,
    client: CommunityClient | None = None,
) -> SeniorMember:
    """Make a senior executive of someone the rules missed (not stored as a member): `level`
    ("csuite" or "vp") and `function` as the operator says, for their title.

    When the community API is configured their profile gives the title, username, company,
    country, email domain and join date (its title, which later webhooks compare with, wins over
    a `title` given); a user the community does not know is refused. Without the API the operator
    gives the title (and may give the username); company and country come from what their
    webhooks sent. Then it is a correction like member_correct's: pinned while the title stays,
    applied through the state machine (a member and a `first` detection for the next digests),
    a confirmed label, and an audit entry (`member.mark_senior`). Returns the new member.
    """
    if problem := user_id_problem(user_id):
        raise CorrectionError(f"user id {user_id[:80]!r} {problem}", field="user_id")
    if level not in (MemberPin.Level.CSUITE, MemberPin.Level.VP):
        raise CorrectionError(f"level {level!r}: a senior executive is csuite or vp", field="level")
    if not function:
        raise CorrectionError(f"give the function: one of {', '.join(Function.values)}", field="function")
    _function_check(function)
    if SeniorMember.objects.filter(pk=user_id).exists():  # checked again under the lock
        raise _already_member(user_id)
    profile = None
    if community_configured():  # outside the transaction: no HTTP call holds the member lock
        try:
            profile = (client or CommunityClient()).profile_get(user_id)
        except CommunityNotFound as exc:
            message = f"user {user_id} is not in the community (its API knows no such user)"
            raise CorrectionError(message, field="user_id") from exc
        except (CommunityError, OSError) as exc:
            raise CorrectionError(f"the community profile of user {user_id} could not be read: {exc}") from exc
        title = profile.job_title or title
        username = profile.username or username
    title, username = title.strip(), username.strip()
    if not title:
        raise CorrectionError(
            f"give the title of user {user_id}: their community profile has none"
            if profile is not None
            else "give the title: the community API is not configured, so it cannot be read from their profile",
            field="title",
        )
    if len(title) > MAX_TITLE_LENGTH or len(username) > MAX_NAME_LENGTH:
        field = "title" if len(title) > MAX_TITLE_LENGTH else "username"
        raise CorrectionError(
            f"a title has at most {MAX_TITLE_LENGTH} characters, a username {MAX_NAME_LENGTH}", field=field
        )
    with transaction.atomic():
        members_lock([user_id])
        if SeniorMember.objects.filter(pk=user_id).exists():
            raise _already_member(user_id)
        _pin(user_id, title=title, level=level, function=function, note=note, user=user)
        states = MemberStates([user_id], now=timezone.now())
        outcome = states.apply(MemberChange(user_id=user_id, title=title, username=username))
        if profile is not None:
            states.enrichment_record(user_id, attributes=profile.attributes(), error=profile.missing_text)
        states.save()
        _label(title, level=level, function=function, note=note, user=user)
        audit_record(user, "member.mark_senior", via=via, target=f"member {user_id} ({title[:100]})", level=level,
                     function=function, outcome=outcome, from_community=profile is not None,
                     note=note.strip())  # fmt: skip
    return states.member(user_id)


def _function_check(function: str | None) -> None:
    if function not in (None, "", *Function.values):
        raise CorrectionError(f"unknown function {function!r}: one of {', '.join(Function.values)}", field="function")


def _already_member(user_id: str) -> CorrectionError:
    return CorrectionError(f"member {user_id} is a senior executive already: correct them instead", field="user_id")


def _pin(user_id: str, *, title: str, level: str, function: str, note: str, user) -> None:
    pinned = {"title": title, "level": level, "function": function, "note": note.strip(), "created_by": _user(user)}
    MemberPin.objects.update_or_create(user_id=user_id, defaults=pinned)


def _label(title: str, *, level: str, function: str | None, note: str, user) -> None:
    """The title's confirmed label; `function` None leaves the label's as it was (another
    operator may have confirmed one), "" confirms none."""
    defaults = {"level": level, "note": note.strip(), "created_by": _user(user)}
    if function is not None:
        defaults["function"] = function
    ConfirmedLabel.objects.update_or_create(title=title[:500], defaults=defaults)


def _user(user):
    return user if getattr(user, "is_authenticated", False) else None
