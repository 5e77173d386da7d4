"""Company, country and join date from the member's community profile, where the webhook lacked them."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from .. import selectors
from ..community import CommunityClient, CommunityError
from ..locks import members_lock
from .members import MemberStates

logger = logging.getLogger(__name__)


def member_enrich(*, user_id: str, client: CommunityClient | None = None) -> bool:
    """Fill what the member lacks from their community profile; returns whether it was filled.

    The profile is fetched outside the transaction. A failure, or a configured profile field the
    profile does not contain, is recorded on the member (enrichment_error, filterable in the
    admin), logged and counted; what the profile did have is filled. Detections
    still waiting for their digest take the filled fields too (the state machine's writer).
    """
    if not selectors.member_exists(user_id=user_id):
        return False
    try:
        profile = (client or CommunityClient()).profile_get(user_id)
        attributes, error = profile.attributes(), profile.missing_text
        if error:
            logger.warning("enrichment of member %s: %s", user_id, error)
    except (CommunityError, OSError) as exc:
        logger.warning("enrichment of member %s failed: %s", user_id, exc)
        attributes, error = None, str(exc)
    with transaction.atomic():
        members_lock([user_id])
        states = MemberStates([user_id], now=timezone.now())
        if not states.enrichment_record(user_id, attributes=attributes, error=error):
            return False
        states.save()
    return attributes is not None and not error
