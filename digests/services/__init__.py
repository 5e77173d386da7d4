"""Digests' services. Callers import from here.

- `audiences`: managing audiences (save, delete, warnings), audited.
- `builds`: building weekly and extra digests, once per audience; an operator's build is audited.
- `build_writes`: what a build writes for an audience: its digest's chunks, deliveries and
  receipts (the two bulk INSERTs).
- `build_texts`: a digest's title, the preview of what an audience would get, and a build's summary.
- `alerts`: real-time audiences' alerts, coalesced and capped per hour.
- `sending`: delivering each chunk on each channel, retried, behind a circuit breaker.
- `circuits`: the circuit breaker per channel that sending opens, probes and closes.
- `operator_sends`: an operator's send-now and resend of deliveries, audited.
- `runs`: the outcome of each delivery's bot run in the Control Room, then sending what is due
  (`deliveries_runs_check_and_send`, what the every-minute task does).

`friday_of_run` and `week_ending_for` are core.weeks' (the week's one home, shared with the
schedule), re-exported here because callers import them from digests.services.
"""

from core.weeks import friday_of_run, week_ending_for

from .alerts import alerts_build_due
from .audiences import (
    AudienceBusy,
    audience_delete,
    audience_in_flight,
    audience_matching_members,
    audience_save,
    audience_warnings,
)
from .build_texts import build_summary, digest_preview
from .builds import (
    AudienceBuild,
    Build,
    digest_build,
    digest_build_and_send,
    digest_build_extra,
    digest_build_weekly,
    nothing_built,
)
from .operator_sends import deliveries_make_due, deliveries_resend
from .runs import RunsReport, deliveries_runs_check, deliveries_runs_check_and_send, runs_check_and_send_summary
from .sending import (
    SendReport,
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
