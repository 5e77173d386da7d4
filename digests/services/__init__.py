"""Digests' services: building (builds), real-time alerts (alerts), delivering (sending), and
managing audiences (audiences). Callers import from here."""

from .alerts import alerts_build_due
from .audiences import (
    AudienceBusy,
    audience_delete,
    audience_in_flight,
    audience_matching_members,
    audience_save,
    audience_warnings,
)
from .builds import (
    AudienceBuild,
    Build,
    build_summary,
    digest_build,
    digest_build_and_send,
    digest_build_extra,
    digest_build_weekly,
    digest_preview,
    friday_of_run,
    nothing_built,
    week_ending_for,
)
from .sending import (
    SendReport,
    deliveries_make_due,
    deliveries_resend,
    deliveries_send_due,
    deliveries_send_enqueue,
    delivery_address,
    delivery_address_text,
    delivery_failure_record,
    delivery_sent_record,
)

__all__ = [
    "AudienceBuild",
    "AudienceBusy",
    "Build",
    "SendReport",
    "alerts_build_due",
    "audience_delete",
    "audience_in_flight",
    "audience_matching_members",
    "audience_save",
    "audience_warnings",
    "build_summary",
    "deliveries_make_due",
    "deliveries_resend",
    "deliveries_send_due",
    "deliveries_send_enqueue",
    "delivery_address",
    "delivery_address_text",
    "delivery_failure_record",
    "delivery_sent_record",
    "digest_build",
    "digest_build_and_send",
    "digest_build_extra",
    "digest_build_weekly",
    "digest_preview",
    "friday_of_run",
    "nothing_built",
    "week_ending_for",
]
