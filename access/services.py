"""Recording what operators did (the audit trail).

The service that changes state records the entry, in its own transaction (STYLE.md 15): it takes
the actor as `user` (None: the command line) and `via` ("admin", "api" or "command"); the admin,
the API and the commands only pass them. A service the schedule also runs takes `via=None` for
the schedule's own run, which no operator asked for and which is not recorded. The admin actions
of third-party packages (django-axes' lockouts, django-celery-beat's schedules) are recorded in
access/admin.py: their rows are changed by the packages' admin code, through no service of ours.
tests/access/test_audit_entry_points.py walks every entry point.
"""

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
