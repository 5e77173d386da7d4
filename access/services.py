"""Recording what operators did (the audit trail)."""

from __future__ import annotations

import logging

from .models import AuditEntry

logger = logging.getLogger(__name__)


def audit_record(user, action: str, *, via: str, target: object = "", **details) -> AuditEntry:
    """Record `action` by `user` (None: the command line) on `target`, with JSON-able `details`."""
    user = user if getattr(user, "is_authenticated", False) else None
    entry = AuditEntry.objects.create(
        user=user,
        username=user.get_username() if user else "",
        via=via,
        action=action,
        target=str(target)[:255],
        details=details,
    )
    logger.info("audit: %s by %s via %s on %s %s", action, entry.username or "command line", via, entry.target, details)
    return entry
