"""Company, country and join date from the member's community profile, where the webhook lacked them."""

from __future__ import annotations

import logging

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from integrations.insided.client import TRANSIENT_ERRORS, CommunityClient
from integrations.insided.errors import CommunityError

from .. import selectors
from ..locks import members_lock
from .members import MemberStates

logger = logging.getLogger(__name__)


def member_enrich(*, user_id: str, client: CommunityClient | None = None, final: bool = True) -> bool:
    """Fill what the member lacks from their community profile; returns whether it was filled.

    The profile is fetched outside the transaction. A failure, or a configured profile field the
    profile does not contain (or a value it cannot keep), is recorded on the member
    (enrichment_error, filterable in the admin), logged and counted; what the profile did have is
    filled. Should storing it fail, that failure is recorded instead: retrying the same profile
    would fail the same way. A transient failure (`TRANSIENT_ERRORS`: the community unavailable or
    not reached) is raised for the task's retries while `final` is false (the task passes false
    until its last try): an outage delays the enrichment, and only one that outlasts the retries
    is recorded. The database being away is always left to the task's retries.
    Detections still waiting for their digest take the filled fields too (the state machine's writer).
    """
    if not selectors.member_exists(user_id=user_id):
        return False
    try:
        profile = (client or CommunityClient()).profile_get(user_id)
        attributes, error = profile.attributes(), profile.missing_text
        if error:
            logger.warning("enrichment of member %s: %s", user_id, error)
    except (CommunityError, OSError) as exc:
        if not final and isinstance(exc, TRANSIENT_ERRORS):
            logger.warning("enrichment of member %s failed, to be tried again: %s", user_id, exc)
            raise
        logger.warning("enrichment of member %s failed: %s", user_id, exc)
        attributes, error = None, str(exc)
    try:
        recorded = _enrichment_save(user_id, attributes=attributes, error=error)
    except (OperationalError, InterfaceError):
        raise
    except DatabaseError as exc:  # the data (a value the database refuses), not the database
        logger.exception("enrichment of member %s could not be stored", user_id)
        error = f"community profile could not be stored: {exc.__class__.__name__}: {exc}"
        attributes, recorded = None, _enrichment_save(user_id, attributes=None, error=error)
    return recorded and attributes is not None and not error


def _enrichment_save(user_id: str, *, attributes: dict | None, error: str) -> bool:
    with transaction.atomic():
        members_lock([user_id])
        states = MemberStates([user_id], now=timezone.now())
        if not states.enrichment_record(user_id, attributes=attributes, error=error):
            return False
        states.save()
    return True
