"""Digests' services. Callers import from here.

- `audiences`: managing audiences (save, delete, warnings), audited.
- `builds`: building weekly and extra digests, once per audience; an operator's build is audited.
- `alerts`: real-time audiences' alerts, coalesced and capped per hour.
- `sending`: delivering each chunk on each channel, retried, behind a circuit breaker; an
  operator's send-now and resend, audited.
- `runs`: the outcome of each delivery's bot run in the Control Room, then sending what is due
  (`deliveries_runs_check_and_send`, what the every-minute task does).
"""

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
from .runs import RunsReport, deliveries_runs_check, deliveries_runs_check_and_send, runs_check_and_send_summary
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
    "RunsReport",
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
    "deliveries_runs_check",
    "deliveries_runs_check_and_send",
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
    "runs_check_and_send_summary",
    "week_ending_for",
]
