"""The inSided User API's replies in our terms: a member's profile, and the user ids we keep.

A `User` (GET /user/{id}, the member list) and the find-by reply's user carry the same profile in
two documented shapes; both are read here, so the client and the backfill read a profile one
way. Each text is cut to the column it lands in (core.text), so a profile can always be stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.dates import moment_check
from core.metrics import COMMUNITY_FIELDS_MISSING
from core.text import MAX_NAME_LENGTH, MAX_TITLE_LENGTH, text_cut

from .errors import CommunityError

# --- User ids ------------------------------------------------------------------------------------
MAX_USER_ID_LENGTH = 64
# inSided's user ids are numbers (or alphanumeric strings): the safe set keeps an id usable as one
# path segment of the URLs built with it (the community API's, the admin's) and as a file name.
USER_ID_CHARACTERS = "letters, digits, '-', '_' and '.' (not only dots)"
USER_ID_PATTERN = rf"(?!\.+$)[A-Za-z0-9_.-]{{1,{MAX_USER_ID_LENGTH}}}"
_USER_ID = re.compile(USER_ID_PATTERN)


def user_id_problem(text: str) -> str | None:
    """What is wrong with a user id from outside (a webhook, an API filter, an admin URL, a
    backfill, the member list), worded for the sender; None when it is a safe one."""
    if len(text) > MAX_USER_ID_LENGTH:
        return f"must be at most {MAX_USER_ID_LENGTH} characters"
    if not _USER_ID.fullmatch(text):
        return f"must be {USER_ID_CHARACTERS}"
    return None


def user_id_of(user: Mapping) -> str | None:
    """A listed user's `userid` (an integer in the spec) as text; None when it has none."""
    user_id = user.get("userid")
    if isinstance(user_id, bool) or not isinstance(user_id, int | str) or not str(user_id).strip():
        return None
    return str(user_id).strip()


# --- Profiles --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CommunityProfile:
    user_id: str
    username: str
    job_title: str | None  # None: the profile has no Job Title field
    country: str
    company: str
    joined_at: datetime | None
    email_domain: str = ""  # the part after @ of the profile's email, lowercased
    # The configured profile fields (COMMUNITY_FIELD_*) this profile did not contain.
    missing: tuple[str, ...] = ()
    # Values the profile had but the service cannot keep (a join date out of range), described.
    invalid: tuple[str, ...] = ()

    def attributes(self) -> dict:
        """The member attributes the profile has (country, company, joined_at, email_domain), blanks left out."""
        attributes = {
            "country": self.country,
            "company": self.company,
            "joined_at": self.joined_at,
            "email_domain": self.email_domain,
        }
        return {name: value for name, value in attributes.items() if value}

    @property
    def missing_text(self) -> str:
        """An operator's reading of what the profile lacked or had unusable; "" when nothing."""
        problems = list(self.invalid)
        if self.missing:
            names = ", ".join(repr(name) for name in self.missing)
            problems.insert(0, f"has no {names} profile field (COMMUNITY_FIELD_* settings)")
        return f"community profile of user {self.user_id} {'; '.join(problems)}" if problems else ""


def has_profile_fields(user: Mapping) -> bool:
    """Whether a user object carries its profile fields: `_related.userprofilefields` (a `User`)
    or `profileFields` (the find-by reply's user)."""
    related = user.get("_related")
    return isinstance(user.get("profileFields"), list) or (
        isinstance(related, dict) and isinstance(related.get("userprofilefields"), list)
    )


def profile_fields(user: Mapping) -> dict[str, str]:
    """The user's profile fields as {name: value}, from either documented shape.

    A `User` (GET /user/{id}, the member list) has `_related.userprofilefields`, items
    `{"profilefieldid", "value", "profilefield_name", ...}`; the find-by reply's user has
    `profileFields`, items `{"name", "NormalizedValue"}`. Names keep the community's spelling;
    look-ups compare them case-insensitively. A reply with neither list is an error: the
    documentation does not say a user can come without them, and an empty answer would pass for
    "no title".
    """
    if not has_profile_fields(user):
        raise CommunityError("user reply has no profile fields (_related.userprofilefields or profileFields)")
    related = user.get("_related")
    if isinstance(related, dict) and isinstance(related.get("userprofilefields"), list):
        items, name_key, value_key = related["userprofilefields"], "profilefield_name", "value"
    else:
        items, name_key, value_key = user["profileFields"], "name", "NormalizedValue"
    fields = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get(name_key), str):
            value = item.get(value_key)
            fields[item[name_key].strip().casefold()] = value if isinstance(value, str) else ""
    return fields


def joined_at_from(value) -> datetime | None:
    """`joindate`: Unix seconds in a `User`, an ISO 8601 date-time in the find-by reply; None when
    absent. A ValueError, worded for an operator, for one that cannot be read or is out of the
    service's range (core.dates)."""
    if value is None:
        return None
    parsed = None
    if isinstance(value, int) and not isinstance(value, bool):
        with suppress(OverflowError, OSError, ValueError):
            parsed = datetime.fromtimestamp(value, tz=UTC)
    elif isinstance(value, str):
        with suppress(ValueError):  # well formed, but no such moment
            parsed = parse_datetime(value)
        if parsed is not None and timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, UTC)
    if parsed is None:
        raise ValueError("is not a date")
    return moment_check(parsed)


def _stored_text(value: str, limit: int) -> str:
    """A profile text as it can be stored: cut to the column it lands in (core.text: a name,
    country or company MAX_NAME_LENGTH, a title MAX_TITLE_LENGTH), an ellipsis marking the cut,
    and NULs, which PostgreSQL refuses in text, shown as U+FFFD."""
    return text_cut(value.replace("\x00", "\ufffd"), limit)


def email_domain_of(email) -> str:
    """The domain of a profile's `email` (documented on GET /user/{id}); "" when there is none."""
    if not isinstance(email, str) or email.count("@") != 1:
        return ""
    domain = email.rsplit("@", 1)[1].strip().casefold()
    return domain if "." in domain and len(domain) <= 255 else ""


def profile_from_user(user: Mapping, *, user_id: str) -> CommunityProfile:
    fields = profile_fields(user)
    wanted = {
        "job_title": settings.COMMUNITY_FIELD_JOB_TITLE,
        "country": settings.COMMUNITY_FIELD_COUNTRY,
        "company": settings.COMMUNITY_FIELD_COMPANY,
    }
    values = {role: fields.get(name.strip().casefold()) for role, name in wanted.items()}
    missing = tuple(name for role, name in wanted.items() if values[role] is None)
    for name in missing:
        COMMUNITY_FIELDS_MISSING.labels(field=name).inc()
    username = user.get("username")
    invalid = []
    try:
        joined_at = joined_at_from(user.get("joindate"))
    except ValueError as exc:
        joined_at = None
        invalid.append(f"has joindate {str(user.get('joindate'))[:40]!r}, which {exc}")
    title = values["job_title"]
    # Every text is cut to the column it lands in: a longer one would fail the member's whole
    # transaction (a registration set aside, an enrichment retried in vain).
    return CommunityProfile(
        user_id=str(user_id),
        username=_stored_text(username.strip() if isinstance(username, str) else "", MAX_NAME_LENGTH),
        job_title=None if title is None else _stored_text(title, MAX_TITLE_LENGTH),
        country=_stored_text((values["country"] or "").strip(), MAX_NAME_LENGTH),
        company=_stored_text((values["company"] or "").strip(), MAX_NAME_LENGTH),
        joined_at=joined_at,
        email_domain=email_domain_of(user.get("email")),
        missing=missing,
        invalid=tuple(invalid),
    )
