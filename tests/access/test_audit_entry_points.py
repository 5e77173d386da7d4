"""Every way an operator changes state leaves exactly one audit entry per action, written by the
service it calls (STYLE.md 15): each admin action, API write and command, walked.

The table is the contract. A new admin action, API write or command fails
`test_the_table_names_every_entry_point` until it is added: to ENTRY_POINTS with its audit
action, or to NOT_AUDITED with why.
"""

import contextlib
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import CommandError, call_command, get_commands
from django.test import RequestFactory
from django.urls import get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from access.models import AuditEntry
from classification.models import ConfirmedLabel, StoredRuleset
from classification.services import ruleset_active_text
from detections.models import PendingEvent, RawEvent, SeniorMember
from digests import services as digest_services
from digests.models import Audience, DigestDelivery
from reports import services as report_services
from reports.months import Month
from tests.factories import FailedBadgeGrantFactory, RawEventFactory, SeniorDetectionFactory, SeniorMemberFactory

pytestmark = pytest.mark.django_db

# entry point -> the audit actions it leaves, each exactly once.
ENTRY_POINTS = {
    # admin
    "admin: Send extra digests now": ["digest.send_extra"],
    "admin action: digests.digestdelivery send_now": ["delivery.send_now"],
    "admin action: digests.digestdelivery resend": ["delivery.resend"],
    "admin: add an audience": ["audience.create"],
    "admin: change an audience": ["audience.change"],
    "admin: delete an audience": ["audience.delete"],
    "admin action: detections.rawevent retry_failed": ["events.retry"],
    "admin action: detections.seniormember reclassify": ["members.reclassify"],
    "admin: correct a member": ["member.correct"],
    "admin: add a senior executive the rules missed": ["member.mark_senior"],
    "admin action: detections.communitygrant retry": ["community.retry"],
    "admin: add a ruleset": ["ruleset.store"],
    "admin action: classification.storedruleset activate": ["ruleset.activate"],
    "admin action: classification.storedruleset use_shipped_file": ["ruleset.use_shipped_file"],
    "admin action: classification.storedruleset reload_now": ["ruleset.reload"],
    "admin: add a confirmed label": ["label.add"],
    "admin: change a confirmed label": ["label.change"],
    "admin: delete a confirmed label": ["label.delete"],
    "admin action: classification.confirmedlabel delete_selected": ["label.delete"],
    "admin: generate a month's report": ["report.generate"],
    "admin action: reports.report regenerate": ["report.regenerate"],
    "admin action: django_celery_beat.periodictask enable_tasks": ["schedule.enable_tasks"],
    "admin action: django_celery_beat.periodictask disable_tasks": ["schedule.disable_tasks"],
    "admin action: django_celery_beat.periodictask toggle_tasks": ["schedule.toggle_tasks"],
    "admin action: django_celery_beat.periodictask run_tasks": ["schedule.run_tasks"],
    "admin action: django_celery_beat.periodictask delete_selected": ["schedule.delete"],
    "admin: change a schedule": ["schedule.change"],
    "admin: delete a schedule": ["schedule.delete"],
    "admin action: axes.accessattempt delete_selected": ["login.unlock"],
    "admin: delete a lockout": ["login.unlock"],
    # API
    "api: POST /api/digests/send": ["delivery.send_now"],
    "api: POST /api/digests/send build": ["digest.send_extra", "delivery.send_now"],
    "api: POST /api/digests/send resend_dead": ["delivery.resend", "delivery.send_now"],
    "api: POST /api/reports/generate": ["report.generate"],
    "api: POST /api/audiences": ["audience.create"],
    "api: PATCH /api/audiences/<pk>": ["audience.change"],
    "api: PUT /api/audiences/<pk>": ["audience.change"],
    "api: DELETE /api/audiences/<pk>": ["audience.delete"],
    # commands
    "command: build_weekly_digest": ["digest.build_weekly"],
    "command: build_weekly_digest --extra": ["digest.send_extra"],
    "command: send_digests --now": ["delivery.send_now"],
    "command: send_digests --resend-dead": ["delivery.resend"],
    "command: generate_report": ["report.generate"],
    "command: reclassify": ["members.reclassify"],
    "command: community_sync": ["community.sync"],
    "command: crm_sync": ["crm.sync"],
    "admin action: crm.handoff retry": ["crm.retry"],
    "admin: pick an account": ["crm.pick_account"],
    "admin action: crm.accountpick delete_selected": ["crm.forget_pick"],
    "admin: delete a picked account": ["crm.forget_pick"],
}

# Entry points that change nothing an operator decides, or are recorded elsewhere: why.
NOT_AUDITED = {
    "admin action: axes.accessattempt cleanup_expired_attempts": "removes expired attempts only: no one is unlocked",
    "api: POST /api/classify": "reads: classifies titles, stores nothing",
    "command: classify": "reads: classifies titles or evaluates a ruleset, stores nothing",
    "command: backfill_members": "recorded by its own BackfillRun row (who, when, what, counts): not yet audited",
    "command: sync_schedules": "writes core/schedules.py into beat's tables: code's change, not an operator's",
    "command: api_token": "core imports no app (so not access); the token's creation time is on the token",
    "command: dev_admin": "DEBUG only: creates the local development login",
    "command: send_digests": "without --now/--resend-dead: the every-minute task's step, in this process",
    "command: generate_report --catch-up": "the daily schedule's step, in this process",
    "command: reclassify --dry-run": "changes nothing",
    "command: community_sync --dry-run": "changes nothing",
    "command: crm_sync --dry-run": "changes nothing",
}

PROJECT_APPS = ("access", "classification", "console", "core", "detections", "digests", "reports", "crm")


def _admin_actions(superuser) -> set[str]:
    """Every admin action a superuser is offered, on every model (Django's delete_selected included)."""
    request = RequestFactory().get("/admin/")
    request.user = superuser
    names = set()
    for model, model_admin in admin.site._registry.items():
        for name in model_admin.get_actions(request):
            names.add(f"admin action: {model._meta.app_label}.{model._meta.model_name} {name}")
    return names


def _api_writes() -> set[str]:
    writes = set()
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) != "api/":
            continue
        for inner in pattern.url_patterns:
            view = getattr(inner.callback, "cls", None)
            if view is None:
                continue
            path = "/api/" + str(inner.pattern).replace("<int:pk>", "<pk>")
            for method in ("post", "put", "patch", "delete"):
                if hasattr(view, method) or (method == "post" and hasattr(view, "create")):
                    writes.add(f"api: {method.upper()} {path}")
    return writes


def _commands() -> set[str]:
    return {f"command: {name}" for name, app in get_commands().items() if app in PROJECT_APPS}


def test_the_table_names_every_entry_point(admin_user):
    named = {key.removesuffix(" build").removesuffix(" resend_dead") for key in ENTRY_POINTS} | set(NOT_AUDITED)
    named |= {key.split(" --")[0] for key in named}
    ours = {"classification", "detections", "digests", "reports", "crm", "axes", "django_celery_beat"}
    offered = {a for a in _admin_actions(admin_user) if a.split(": ")[1].split(".")[0] in ours}
    # Django's own delete_selected on the project's models is Django's: audited where it matters above.
    offered = {a for a in offered if not a.endswith(" delete_selected") or a in ENTRY_POINTS or a in NOT_AUDITED}

    assert offered - named == set()
    assert _api_writes() - named == set()
    assert _commands() - named == set()


# --- Walking each entry point --------------------------------------------------------------------


@pytest.fixture
def world(settings, tmp_path, control_room, insided, admin_user):
    settings.MEDIA_ROOT = tmp_path
    SeniorDetectionFactory(detected_at=timezone.now() - timedelta(days=40))
    digest_services.digest_build_weekly()
    report_services.report_generate_month(month=Month.of(timezone.now()).previous())
    return {"admin": admin_user}


def _api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def _changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _audience(**fields) -> Audience:
    return Audience.objects.create(name=fields.pop("name", "Walk"), email_to=["walk@example.com"], **fields)


AUDIENCE_FORM = {
    "name": "Walked",
    "is_active": "on",
    "cadence": "weekly",
    "alerts_per_hour": "6",
    "email_to": "walk@example.com",
    "starts_at_0": "2000-01-01",
    "starts_at_1": "00:00:00",
}


def _ruleset_text(version: str) -> str:
    text = ruleset_active_text()
    return "\n".join(f"version: {version}" if line.startswith("version:") else line for line in text.splitlines())


def _run(name: str, client, user, insided):  # noqa: C901, PLR0912, PLR0915 - one branch per entry point, as the table
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.first()
    delivery = DigestDelivery.objects.first()
    tasks_url = reverse("admin:django_celery_beat_periodictask_changelist")
    if name == "admin: Send extra digests now":
        SeniorDetectionFactory(detected_at=timezone.now())
        client.post(reverse("admin:digests_digest_send"))
    elif name.startswith("admin action: digests.digestdelivery "):
        action = name.rsplit(" ", 1)[1]
        client.post(
            _changelist(DigestDelivery), {"action": action, ACTION_CHECKBOX_NAME: [delivery.pk], "confirmed": "yes"}
        )
    elif name == "admin: add an audience":
        client.post(reverse("admin:digests_audience_add"), AUDIENCE_FORM)
    elif name == "admin: change an audience":
        audience = _audience()
        client.post(reverse("admin:digests_audience_change", args=[audience.pk]), {**AUDIENCE_FORM, "name": "Renamed"})
    elif name == "admin: delete an audience":
        audience = _audience()
        client.post(reverse("admin:digests_audience_delete", args=[audience.pk]), {"post": "yes"})
    elif name == "admin action: detections.rawevent retry_failed":
        event = RawEventFactory(user_id="77", outcome=RawEvent.Outcome.FAILED, processed_at=timezone.now())
        PendingEvent.objects.filter(event_id=event.pk).delete()  # set aside: no longer pending
        client.post(_changelist(RawEvent), {"action": "retry_failed", ACTION_CHECKBOX_NAME: [event.pk]})
    elif name == "admin action: detections.seniormember reclassify":
        member = SeniorMemberFactory(user_id="78")
        form = {"action": "reclassify", ACTION_CHECKBOX_NAME: [member.pk], "apply": "yes"}
        client.post(_changelist(SeniorMember), form)
    elif name == "admin: correct a member":
        SeniorMemberFactory(user_id="79", title="VP of Sales", level="vp")
        client.post(reverse("admin:detections_member_correct", args=["79"]), {"level": "none"})
    elif name == "admin: add a senior executive the rules missed":
        insided.add_user(80, job_title="Head of Sales", username="Ines")
        form = {"user_id": "80", "level": "vp", "function": "sales", "title": "Head of Sales"}
        client.post(reverse("admin:detections_member_mark_senior"), form)
    elif name == "admin action: detections.communitygrant retry":
        grant = FailedBadgeGrantFactory(user_id="81")
        client.post(_changelist(type(grant)), {"action": "retry", ACTION_CHECKBOX_NAME: [grant.pk]})
    elif name == "admin: add a ruleset":
        form = {"content": _ruleset_text("walk-1"), "change_note": "walked"}
        client.post(reverse("admin:classification_storedruleset_add"), form)
    elif name == "admin action: classification.storedruleset activate":
        from classification.services import ruleset_store

        stored = ruleset_store(content=_ruleset_text("walk-2"), change_note="walked", user=user)
        AuditEntry.objects.all().delete()
        client.post(reverse("admin:classification_activate", args=[stored.pk]))
    elif name.startswith("admin action: classification.storedruleset "):
        action = name.rsplit(" ", 1)[1]
        client.post(_changelist(StoredRuleset), {"action": action, ACTION_CHECKBOX_NAME: []}, follow=False)
        client.post(reverse(f"admin:classification_{'use_shipped_file' if action == 'use_shipped_file' else action}"))
    elif name == "admin: add a confirmed label":
        client.post(reverse("admin:classification_confirmedlabel_add"), {"title": "Walker", "level": "vp"})
    elif name in ("admin: change a confirmed label", "admin: delete a confirmed label") or name.endswith(
        "confirmedlabel delete_selected"
    ):
        label = ConfirmedLabel.objects.create(title="Walker", level="vp")
        AuditEntry.objects.all().delete()
        if name.startswith("admin: change"):
            url = reverse("admin:classification_confirmedlabel_change", args=[label.pk])
            client.post(url, {"title": "Walker", "level": "csuite"})
        elif name.startswith("admin: delete"):
            client.post(reverse("admin:classification_confirmedlabel_delete", args=[label.pk]), {"post": "yes"})
        else:
            form = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [label.pk], "post": "yes"}
            client.post(_changelist(ConfirmedLabel), form)
    elif name == "admin: generate a month's report":
        client.post(reverse("admin:reports_report_generate"), {"month": str(Month.of(timezone.now()).previous())})
    elif name == "admin action: reports.report regenerate":
        from reports.models import Report

        client.post(_changelist(Report), {"action": "regenerate", ACTION_CHECKBOX_NAME: [Report.objects.first().pk]})
    elif name.startswith("admin action: django_celery_beat.periodictask "):
        action = name.rsplit(" ", 1)[1]
        client.post(tasks_url, {"action": action, ACTION_CHECKBOX_NAME: [task.pk], "post": "yes"})
    elif name == "admin: change a schedule":
        client.post(
            reverse("admin:django_celery_beat_periodictask_change", args=[task.pk]), _schedule_form(client, task)
        )
    elif name == "admin: delete a schedule":
        client.post(reverse("admin:django_celery_beat_periodictask_delete", args=[task.pk]), {"post": "yes"})
    elif name.startswith("admin action: axes.accessattempt") or name == "admin: delete a lockout":
        from axes.models import AccessAttempt

        attempt = AccessAttempt.objects.create(username="someone", ip_address="10.0.0.1", failures_since_start=9)
        if name == "admin: delete a lockout":
            client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
        else:
            client.post(
                _changelist(AccessAttempt),
                {"action": "delete_selected", ACTION_CHECKBOX_NAME: [attempt.pk], "post": "yes"},
            )
    elif name.startswith("api: POST /api/digests/send"):
        body = {"build": name.endswith("build"), "resend_dead": name.endswith("resend_dead")}
        assert _api(user).post("/api/digests/send", body, format="json").status_code == 202
    elif name == "api: POST /api/reports/generate":
        assert _api(user).post("/api/reports/generate", {}, format="json").status_code == 202
    elif name == "api: POST /api/audiences":
        body = {"name": "By API", "email_to": ["api@example.com"]}
        assert _api(user).post("/api/audiences", body, format="json").status_code == 201
    elif name.startswith("api: ") and "/api/audiences/<pk>" in name:
        audience = _audience()
        method = name.split()[1].lower()
        body = {"name": "By API", "email_to": ["api@example.com"]} if method != "delete" else None
        response = getattr(_api(user), method)(f"/api/audiences/{audience.pk}", body, format="json")
        assert response.status_code in (200, 204), response.content
    elif name in ("admin action: crm.handoff retry", "admin: pick an account"):
        from crm.models import Handoff

        detection = SeniorDetectionFactory(user_id="83", company="Globex")
        candidates = [
            {"Id": "001000000000001AAA", "Name": "Globex Inc"},
            {"Id": "001000000000002AAA", "Name": "Globex"},
        ]
        handoff = Handoff.objects.create(detection=detection, key="walk", status="ambiguous", candidates=candidates)
        if name.startswith("admin action"):
            client.post(_changelist(Handoff), {"action": "retry", ACTION_CHECKBOX_NAME: [handoff.pk]})
        else:
            client.post(reverse("admin:crm_handoff_pick", args=[handoff.pk]), {"account": "001000000000002AAA"})
    elif name in ("admin action: crm.accountpick delete_selected", "admin: delete a picked account"):
        from crm.models import AccountPick

        pick = AccountPick.objects.create(match_key="company:walk", account_id="001000000000001AAA")
        if name.startswith("admin action"):
            form = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [pick.pk], "post": "yes"}
            client.post(_changelist(AccountPick), form)
        else:
            client.post(reverse("admin:crm_accountpick_delete", args=[pick.pk]), {"post": "yes"})
    elif name.startswith("command: "):
        args = name.removeprefix("command: ").split()
        if args[0] == "build_weekly_digest" and len(args) == 1:
            _audience(name="New this week", starts_at=timezone.now() - timedelta(days=400))  # Friday's not built yet
        if args[0] == "reclassify":
            SeniorMemberFactory(user_id="82")
        with contextlib.suppress(CommandError):  # a write left for a retry: what was done is audited
            call_command(*args, stdout=StringIO(), stderr=StringIO())
    else:
        raise AssertionError(f"no walk for {name!r}")


def _schedule_form(client, task) -> dict:
    return {
        "name": task.name,
        "regtask": task.task,
        "task": "",
        "enabled": "",
        "description": task.description,
        "interval": task.interval_id or "",
        "crontab": task.crontab_id or "",
        "solar": "",
        "clocked": "",
        "args": "[]",
        "kwargs": "{}",
        "expire_seconds": task.expire_seconds or "",
        "priority": "",
        "queue": "",
        "exchange": "",
        "routing_key": "",
        "headers": "{}",
        "total_run_count": task.total_run_count,
    }


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_each_entry_point_leaves_exactly_one_audit_entry_per_action(
    name, world, admin_client, insided, salesforce, settings
):
    settings.COMMUNITY_WRITEBACK_ROLE = "roles.Executives"  # community_sync has a role to sync
    settings.CRM_HANDOFF_ENABLED = True  # crm_sync has Salesforce to hand off to (the fake)
    insided.add_role("roles.Executives")
    AuditEntry.objects.all().delete()

    _run(name, admin_client, world["admin"], insided)

    actions = sorted(AuditEntry.objects.values_list("action", flat=True))
    assert actions == sorted(ENTRY_POINTS[name]), name
    via = name.split(":")[0].split()[0]
    assert set(AuditEntry.objects.values_list("via", flat=True)) == {via}
