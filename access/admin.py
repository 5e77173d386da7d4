import json
import re
from urllib.parse import urlencode

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from core.admin import ReadOnlyModelAdmin, clamped, short_time, titled

from .models import AuditEntry
from .services import audit_record

# What an entry's ids open, by admin URL name: access is the lowest app and imports none of the
# apps whose objects the entries name (tests/core/test_layering.py).
_CHANGE_PAGES = {  # details key: the change page its ids are the keys of
    "audience": "admin:digests_audience_change",
    "deliveries": "admin:digests_digestdelivery_change",
    "cancelled": "admin:digests_digestdelivery_change",
    "finishing": "admin:digests_digestdelivery_change",
    "detections": "admin:detections_detection_change",
    "grant_ids": "admin:detections_communitygrant_change",
    "accepted_broken_labels": "admin:classification_confirmedlabel_change",
}
_FILTERED_LISTS = {  # details key: the change list and the field its values are
    "user_ids": ("admin:detections_rawevent_changelist", "user_id"),  # events.retry: the members' events
    "tasks": ("admin:django_celery_beat_periodictask_changelist", "name"),
}
_TARGETS = [  # a target's text, as the services write it: the page it names
    (re.compile(r"member (?P<key>\S+) \("), "admin:detections_seniormember_change", None),
    (re.compile(r"report (?P<year>\d{4})-(?P<month>\d{2})$"), "admin:reports_report_changelist", None),
    (re.compile(r"ruleset (?P<key>\S+)$"), "admin:classification_storedruleset_changelist", "version"),
]
_SHOWN = 20  # ids linked one by one; the rest are in the list that holds them all


def _url(name: str, *, args=(), query: dict | None = None) -> str | None:
    try:
        url = reverse(name, args=args)
    except NoReverseMatch:  # the app is not installed here: the id stays text
        return None
    return f"{url}?{urlencode(query)}" if query else url


def audit_detail_links(details: dict) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Each id list in `details` as (key, [(id, its admin page)]): every id up to _SHOWN, then one
    link to the change list filtered to all of them."""
    found = []
    for key, value in (details or {}).items():
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, int | str) and not isinstance(v, bool) for v in values):
            continue
        if key in _CHANGE_PAGES:
            name = _CHANGE_PAGES[key]
            links = [(str(v), _url(name, args=[quote(v)])) for v in values[:_SHOWN]]
            if len(values) > 1:
                every = _url(name.replace("_change", "_changelist"), query={"id__in": ",".join(map(str, values))})
                links.append((f"all {len(values)} in one list", every))
        elif key in _FILTERED_LISTS:
            name, field = _FILTERED_LISTS[key]
            links = [(str(v), _url(name, query={field: v})) for v in values[:_SHOWN]]
            if len(values) > _SHOWN:
                links.append((f"… and {len(values) - _SHOWN} more (in the raw details)", None))
        else:
            continue
        found.append((key, links))
    return found


def audit_target_url(target: str) -> str | None:
    """The admin page the target's text names (a member, a report's month, a ruleset), if any."""
    for pattern, name, field in _TARGETS:
        if match := pattern.match(target):
            groups = match.groupdict()
            if "year" in groups:
                return _url(name, query={"month__year": groups["year"], "month__month": int(groups["month"])})
            if field:
                return _url(name, query={field: groups["key"]})
            return _url(name, args=[quote(groups["key"])])
    return None


def _link(text, url):
    return format_html('<a href="{}">{}</a>', url, text) if url else text


def audit_details_html(details: dict):
    """The details, key by key: the ids as links to their objects, other values as JSON text."""
    linked = dict(audit_detail_links(details))
    parts = []
    for key, value in (details or {}).items():
        if key in linked:
            shown = format_html_join(", ", "{}", ((_link(text, url),) for text, url in linked[key]))
        else:
            shown = json.dumps(value, ensure_ascii=False)
        parts.append(format_html("<strong>{}</strong>: {}", key, shown))
    return format_html_join("; ", "{}", ((part,) for part in parts))


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyModelAdmin):
    """The audit trail: read only, for everyone who may see it. The ids an entry names are links to
    the objects; the raw details are kept below them on the entry's page."""

    list_display = ["when", "username", "how", "action", "target_link", "details_linked"]
    list_display_links = ["when"]
    list_filter = [
        "action",
        ("via", titled("how it was done", admin.ChoicesFieldListFilter)),
        ("username", titled("who", admin.AllValuesFieldListFilter)),
    ]
    search_fields = ["username", "action", "target"]
    date_hierarchy = "at"
    fields = ["at", "username", "via", "action", "target_link", "details_named", "details_raw"]
    readonly_fields = ["target_link", "details_named", "details_raw"]

    @admin.display(description="at", ordering="at")
    def when(self, obj):
        return short_time(obj.at)

    @admin.display(description="how", ordering="via")
    def how(self, obj):
        return obj.get_via_display()

    @admin.display(description="target", ordering="target")
    def target_link(self, obj):
        url = audit_target_url(obj.target)
        return format_html('<a href="{}">{}</a>', url, clamped(obj.target)) if url else clamped(obj.target)

    @admin.display(description="details")
    def details_linked(self, obj):
        if not obj.details:
            return "—"
        raw = json.dumps(obj.details, ensure_ascii=False)
        return format_html('<span class="cp-clamp" title="{}">{}</span>', raw, audit_details_html(obj.details))

    @admin.display(description="details")
    def details_named(self, obj):
        return audit_details_html(obj.details) if obj.details else "—"

    @admin.display(description="details as recorded")
    def details_raw(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.details, indent=2, ensure_ascii=False))


# Recorded here, not in a service: the lockouts (django-axes) and the schedules (django-celery-beat)
# are the packages' rows changed by the packages' admin code; no service of ours changes them, so
# the admin that does the change is the one place to record it.

# The lockouts (django-axes): deleting an access attempt unlocks that user or address; recorded.
admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AuditedAccessAttemptAdmin(AccessAttemptAdmin):
    def delete_model(self, request, obj):
        self._unlock_record(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        self._unlock_record(request, queryset)
        super().delete_queryset(request, queryset)

    @staticmethod
    def _unlock_record(request, attempts) -> None:
        for attempt in attempts:
            target = f"{attempt.username} from {attempt.ip_address}"
            audit_record(request.user, "login.unlock", via="admin", target=target)


# The schedules (django-celery-beat): pausing, resuming and running them are operator actions,
# allowed with the change permission (the package offers them to anyone who may view) and recorded.
admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class AuditedPeriodicTaskAdmin(PeriodicTaskAdmin):
    actions = ["enable_tasks", "disable_tasks", "toggle_tasks", "run_tasks"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        return actions if self.has_change_permission(request) else {}

    def response_action(self, request, queryset):
        action = request.POST.get("action", "")
        selected = request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)
        if action in self.actions and selected and self.has_change_permission(request):
            names = list(queryset.filter(pk__in=selected).values_list("name", flat=True))
            audit_record(request.user, f"schedule.{action}", via="admin", target=", ".join(names)[:255], tasks=names)
        return super().response_action(request, queryset)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(request.user, "schedule.change", via="admin", target=obj.name, enabled=obj.enabled)

    def delete_model(self, request, obj):
        audit_record(request.user, "schedule.delete", via="admin", target=obj.name)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for name in queryset.values_list("name", flat=True):  # as deleting one at a time records
            audit_record(request.user, "schedule.delete", via="admin", target=name)
        super().delete_queryset(request, queryset)
