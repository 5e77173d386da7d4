from collections import Counter
from functools import cache

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import display_for_value, unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.db.models import Exists, OuterRef
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from classification.models import Function
from core.admin import ReadOnlyModelAdmin, clamped, presence_filter
from core.dates import moment_shown
from integrations.insided.client import community_configured

from .models import BackfillRun, CommunityGrant, Detection, MemberPin, RawEvent, SeniorMember, TrackedField
from .payloads import MAX_NAME_LENGTH, MAX_TITLE_LENGTH, user_id_refusal, user_id_validate
from .selectors import Destination, detections_destinations, member_detections, tracked_fields_cache_clear
from .services.corrections import CorrectionError, member_correct, member_mark_senior
from .services.processing import events_retry_failed
from .services.reclassification import members_reclassify
from .services.writeback import grants_retry


@admin.register(TrackedField)
class TrackedFieldAdmin(admin.ModelAdmin):
    list_display = ["name", "role", "is_active", "created_at"]
    list_filter = ["role", "is_active"]
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        tracked_fields_cache_clear()


@admin.register(RawEvent)
class RawEventAdmin(ReadOnlyModelAdmin):
    """Stored webhook deliveries: housekeeping purges them after EVENTS_RETENTION_DAYS."""

    list_display = ["id", "received_at", "who", "field", "value_shown", "outcome", "why", "processed_at"]
    list_filter = [
        "event_type",
        "outcome",
        ("processed_at", presence_filter("processed", present="yes", absent="not yet")),
        "received_at",
    ]
    search_fields = ["user_id", "username", "value", "delivery_id", "error"]
    date_hierarchy = "received_at"
    actions = ["retry_failed"]

    def has_retry_permission(self, request):
        return request.user.has_perm("detections.retry_rawevent")

    @admin.display(description="member", ordering="user_id")
    def who(self, obj):
        return f"{obj.username} ({obj.user_id})" if obj.username else obj.user_id

    @admin.display(description="value", ordering="value")
    def value_shown(self, obj):
        return clamped(obj.value)

    @admin.display(description="error")
    def why(self, obj):
        return clamped(obj.error)

    @admin.action(description="Retry the failed events of the selected events' members", permissions=["retry"])
    def retry_failed(self, request, queryset):
        """The members' failed events go back on the pending list, in order, for the worker."""
        user_ids = sorted(set(queryset.values_list("user_id", flat=True)))
        count = events_retry_failed(user_ids=user_ids, user=request.user, via="admin")
        self.message_user(request, f"{count} failed events of {len(user_ids)} members queued again.", messages.SUCCESS)


def clamped_lines(lines: list[str]):
    """Lines in a list cell: two shown, all of them on hover."""
    shown = format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))
    return format_html('<span class="cp-clamp" title="{}">{}</span>', "\n".join(lines), shown) if lines else "—"


def destination_how(destination: Destination) -> str:
    """'digest of Dec 11 (sent)', 'alert of Dec 9 (pending)', 'left out — no longer senior when it was built'."""
    if destination.left_out:
        return f"left out — {destination.left_out[:1].lower()}{destination.left_out[1:]}"
    when = destination.digest_date
    how = f"{destination.stream} of {when:%b} {when.day}" if when else destination.stream
    return f"{how} ({destination.statuses})" if destination.deliveries else how


def destinations_lines(destinations: list[Destination]) -> list[str]:
    """One line per outcome, the audiences that share it named together: 25 audiences that left a
    detection out are one line, not 25. What was carried comes first."""
    grouped: dict[str, list[str]] = {}
    for destination in sorted(destinations, key=lambda d: bool(d.left_out)):
        grouped.setdefault(destination_how(destination), []).append(destination.audience)
    return [f"{', '.join(dict.fromkeys(audiences))}: {how}" for how, audiences in grouped.items()]


def destinations_html(destinations: list[Destination]):
    """A detail page's "where it went": a line per audience, linked to its digest and deliveries."""
    if not destinations:
        return "not taken by any audience yet"
    lines = []
    for destination in destinations:
        if destination.digest_id is None:
            lines.append(format_html("{}: {}", destination.audience, destination_how(destination)))
            continue
        digest = reverse("admin:digests_digest_change", args=[destination.digest_id])
        if len(destination.deliveries) == 1:
            [(pk, channel, status)] = destination.deliveries
            shown = f"{channel} {status}"
            deliveries = format_html(
                '<a href="{}">{}</a>', reverse("admin:digests_digestdelivery_change", args=[pk]), shown
            )
        else:
            counted = Counter(f"{channel} {status}" for _, channel, status in destination.deliveries)
            shown = ", ".join(f"{count} {what}" for what, count in sorted(counted.items()))
            listed = f"{reverse('admin:digests_digestdelivery_changelist')}?digest__id__exact={destination.digest_id}"
            deliveries = format_html('<a href="{}">{}</a>', listed, shown)
        when = destination.digest_date
        what = f"{destination.stream} of {when:%b} {when.day}" if when else destination.stream
        lines.append(
            format_html(
                '{}: <a href="{}">{}</a>{}', destination.audience, digest, what, format_html(" — {}", deliveries)
            )
            if destination.deliveries
            else format_html('{}: <a href="{}">{}</a>', destination.audience, digest, what)
        )
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))


def detection_rows(*, user_id: str) -> list[tuple[Detection, str]]:
    """A member's detections with where each went, for their change and correction pages."""
    detections = member_detections(user_id=user_id)
    went = detections_destinations(detection_ids=[d.pk for d in detections])
    return [(detection, destinations_html(went.get(detection.pk, []))) for detection in detections]


def member_link(detection: Detection, *, is_member: bool):
    """Their member page while they are senior; else their detections (history outlives the member)."""
    name = detection.username or detection.user_id
    if is_member:
        member = reverse("admin:detections_seniormember_change", args=[detection.user_id])
        return format_html('<a href="{}">{}</a>', member, name)
    theirs = f"{reverse('admin:detections_detection_changelist')}?{urlencode({'user_id': detection.user_id})}"
    return format_html('<a href="{}" title="Their detections">{}</a> (not a senior member now)', theirs, name)


def admin_form(form: forms.Form, model_admin) -> helpers.AdminForm:
    """A plain form as the admin's own change form renders it (fieldsets, rows, help, errors)."""
    return helpers.AdminForm(form, [(None, {"fields": list(form.fields)})], {}, model_admin=model_admin)


class CorrectionForm(forms.Form):
    level = forms.ChoiceField(
        choices=[(v, label) for v, label in MemberPin.Level.choices], widget=forms.RadioSelect, label="This member is"
    )
    function = forms.ChoiceField(
        choices=[("", "As the rules read it from the title"), *Function.choices],
        required=False,
        label="Running",
        help_text="What they run (ignored for “not a senior executive”). Choose one to hold it while the title "
        "stays; “as the rules read it” gives it back to the rules.",
    )
    note = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), help_text="Why (kept with the label)."
    )


class MarkSeniorForm(forms.Form):
    """Someone the rules missed: who, what they are, and (without the community API) their title."""

    user_id = forms.CharField(
        max_length=64, validators=[user_id_validate], label="Community user id", help_text="As in their profile URL."
    )
    level = forms.ChoiceField(
        choices=[(MemberPin.Level.CSUITE, "C-suite"), (MemberPin.Level.VP, "VP")],
        widget=forms.RadioSelect,
        label="This member is",
    )
    function = forms.ChoiceField(choices=[("", "---------"), *Function.choices], label="Running")
    title = forms.CharField(max_length=MAX_TITLE_LENGTH, required=False, label="Job title")
    username = forms.CharField(max_length=MAX_NAME_LENGTH, required=False)
    note = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), help_text="Why (kept with the label)."
    )

    def __init__(self, *args, community: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if community:
            profile = "Read from their community profile; this one is used only when the profile has none."
            self.fields["title"].help_text = profile
            self.fields["username"].help_text = profile
        else:
            self.fields["title"].required = True
            self.fields["title"].help_text = "Their title as their profile has it: the correction holds while it stays."


@cache
def _date_shown(model, name: str):
    """The change page's display of a date field: as Django shows it, or "invalid (…)" for a date
    stored out of the service's range (core.dates), which Django's display fails on (a 500).
    None for any other field."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if not isinstance(field, models.DateTimeField):
        return None

    @admin.display(description=field.verbose_name)
    def shown(obj):
        return display_for_value(moment_shown(getattr(obj, name)), admin.site.empty_value_display)

    shown.__name__ = name  # the field's help text, as the field itself would have
    return shown


class DatesShownInRangeAdmin(ReadOnlyModelAdmin):
    """Snapshots whose dates may have come from outside (a join date): a row stored before the
    range was checked still opens, its date shown as invalid."""

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return [(isinstance(name, str) and _date_shown(self.model, name)) or name for name in fields]


@admin.register(SeniorMember)
class SeniorMemberAdmin(DatesShownInRangeAdmin):
    """Kept by processing (webhooks, backfill, reclassification), never typed in."""

    # The action second and long text clamped; the least needed last (at 1280 px with the navigation
    # open, company, first detection and id are past the list's scroll).
    list_display = [
        "member",
        "correct_link",
        "title_shown",
        "level",
        "function",
        "last_seen_at",
        "where",
        "first_detected_at",
        "user_id",
    ]
    list_filter = [
        "level",
        "function",
        "rules_version",
        ("enrichment_error", presence_filter("profile lookup failed", present="yes", absent="no")),
    ]
    search_fields = ["user_id", "username", "title", "company", "country"]
    date_hierarchy = "first_detected_at"
    actions = ["reclassify"]

    @admin.display(description="member", ordering="username")
    def member(self, obj):
        return obj.username or obj.user_id

    @admin.display(description="correct")
    def correct_link(self, obj):
        return format_html('<a href="{}">Correct…</a>', reverse("admin:detections_member_correct", args=[obj.pk]))

    @admin.display(description="title", ordering="title")
    def title_shown(self, obj):
        return clamped(obj.title)

    @admin.display(description="company, country", ordering="company")
    def where(self, obj):
        return clamped(", ".join(part for part in (obj.company, obj.country) if part))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The member's page: a Correct button, and their detections with where each went."""
        extra_context = {
            **(extra_context or {}),
            "can_correct": request.user.has_perm("detections.correct_seniormember"),
            "detection_rows": detection_rows(user_id=unquote(object_id)),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        correct = path(
            "<path:user_id>/correct/", self.admin_site.admin_view(self.correct_view), name="detections_member_correct"
        )
        mark = path(
            "mark-senior/", self.admin_site.admin_view(self.mark_senior_view), name="detections_member_mark_senior"
        )
        return [mark, correct, *super().get_urls()]

    def correct_view(self, request, user_id):
        """An operator says what the member really is; applied at once, held while the title stays."""
        if not request.user.has_perm("detections.correct_seniormember"):
            raise PermissionDenied
        if refusal := user_id_refusal(user_id):
            return HttpResponseBadRequest(f"user_id: {refusal}", content_type="text/plain; charset=utf-8")
        member = SeniorMember.objects.filter(pk=user_id).first()
        # The function starts as an operator pinned it for this title, else with the rules: a
        # correction of the level alone must not pin the function the rules happened to read.
        pin = MemberPin.objects.filter(pk=user_id).first() if member else None
        pinned = pin.function if pin is not None and pin.title == member.title.strip() else ""
        initial = {"level": member.level, "function": pinned} if member else {"level": "none"}
        form = CorrectionForm(request.POST or None, initial=initial)
        if member is not None and request.method == "POST" and form.is_valid():
            level, function = form.cleaned_data["level"], form.cleaned_data["function"]
            if function == initial["function"]:
                function = None  # left as it was: keep what holds (a pinned function, or the rules')
            try:
                outcome = member_correct(
                    user_id=user_id,
                    level=level,
                    function=function,
                    note=form.cleaned_data["note"],
                    via="admin",
                    user=request.user,
                )
            except CorrectionError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                corrected = dict(MemberPin.Level.choices)[level]
                if level != MemberPin.Level.NONE and function:
                    corrected += f", {Function(function).label}"
                self.message_user(
                    request,
                    f"{member.username or user_id} corrected to {corrected} ({outcome}); held while their title is "
                    f"{member.title!r}, and added to the confirmed labels.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:detections_seniormember_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Correct {member.username or user_id}" if member else f"Member {user_id}",
            "opts": self.model._meta,
            "member": member,
            "user_id": user_id,
            "pin": MemberPin.objects.filter(pk=user_id).first(),
            "form": form,
            "adminform": admin_form(form, self),
            "detection_rows": detection_rows(user_id=user_id),
        }
        return TemplateResponse(request, "admin/detections/seniormember/correct.html", context)

    def mark_senior_view(self, request):
        """Someone the rules missed, who is not stored: the operator names them and says what they
        are; the community profile (when the API is configured) gives the rest."""
        if not request.user.has_perm("detections.correct_seniormember"):
            raise PermissionDenied
        community = community_configured()
        initial = {"user_id": request.GET.get("user_id", "")}  # from a member's correction page
        form = MarkSeniorForm(request.POST or None, initial=initial, community=community)
        if request.method == "POST" and form.is_valid():
            try:
                member = member_mark_senior(via="admin", user=request.user, **form.cleaned_data)
            except CorrectionError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                self.message_user(
                    request,
                    f"{member.username or member.user_id} is now a senior executive: {member.get_level_display()}, "
                    f"{member.get_function_display()} (a first detection for the next digests); held while their "
                    f"title is {member.title!r}, and added to the confirmed labels.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:detections_seniormember_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Add a senior executive the rules missed",
            "opts": self.model._meta,
            "form": form,
            "adminform": admin_form(form, self),
            "community": community,
        }
        return TemplateResponse(request, "admin/detections/seniormember/mark_senior.html", context)

    def has_reclassify_permission(self, request):
        return request.user.has_perm("detections.reclassify_seniormember")

    @admin.action(
        description="Reclassify selected members under the active rules (dry run first)", permissions=["reclassify"]
    )
    def reclassify(self, request, queryset):
        """First a dry run listing the changes; applying them is a second, confirmed POST."""
        user_ids = list(queryset.values_list("pk", flat=True))
        if request.POST.get("apply") == "yes":
            changes, read = members_reclassify(dry_run=False, user_ids=user_ids, user=request.user, via="admin")
            self.message_user(request, f"Reclassified {read} members: {len(changes)} changed.", messages.SUCCESS)
            return None
        changes, read = members_reclassify(dry_run=True, user_ids=user_ids)
        context = {
            **self.admin_site.each_context(request),
            "title": "Reclassify members: dry run",
            "opts": self.model._meta,
            "changes": changes,
            "read": read,
            "user_ids": user_ids,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/detections/seniormember/reclassify.html", context)


DIGEST_LOOKUP = "receipts__digest__id__exact"


@admin.register(Detection)
class DetectionAdmin(DatesShownInRangeAdmin):
    """History: a detection is a snapshot of what was detected."""

    # The action second and long text clamped; company and country last (at 1280 px with the
    # navigation open, past the list's scroll).
    list_display = [
        "detected_at",
        "correct",
        "member",
        "title_shown",
        "kind",
        "level",
        "function",
        "sent_to",
        "where",
    ]
    list_filter = [
        "kind",
        "level",
        "function",
        ("receipts", presence_filter("sent to an audience", present="yes", absent="not yet")),
        "detected_at",
    ]
    search_fields = ["user_id", "username", "title", "company"]
    date_hierarchy = "detected_at"

    readonly_fields = ["member_page", "where_it_went"]

    def lookup_allowed(self, lookup, value, request=None):
        """A digest's page links to its detections here (?receipts__digest__id__exact=<digest>)."""
        return lookup == DIGEST_LOOKUP or super().lookup_allowed(lookup, value, request)

    def changelist_view(self, request, extra_context=None):
        """Listing one digest's detections, the page says which digest, linked (by URL name: the
        digests app is above this one)."""
        digest = request.GET.get(DIGEST_LOOKUP, "")
        if digest.isdigit():
            page = reverse("admin:digests_digest_change", args=[digest])
            link = format_html('Those carried by <a href="{}">digest #{}</a>', page, digest)
            extra_context = {**(extra_context or {}), "subtitle": link}
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request):
        members = SeniorMember.objects.filter(pk=OuterRef("user_id"))
        return super().get_queryset(request).annotate(is_member=Exists(members))

    def get_fields(self, request, obj=None):
        """The member's link beside their id."""
        fields = [name for name in super().get_fields(request, obj) if name != "member_page"]
        at = fields.index("user_id") + 1 if "user_id" in fields else 0
        return [*fields[:at], "member_page", *fields[at:]]

    def get_changelist_instance(self, request):
        """Where the page's detections went, read once for the page (two queries)."""
        changelist = super().get_changelist_instance(request)
        went = detections_destinations(detection_ids=[d.pk for d in changelist.result_list])
        for detection in changelist.result_list:
            detection.destinations = went.get(detection.pk, [])
        return changelist

    @admin.display(description="correct")
    def correct(self, obj):
        """The member's correction page: a detection is history, the member is what a correction changes."""
        return format_html('<a href="{}">Correct…</a>', reverse("admin:detections_member_correct", args=[obj.user_id]))

    @admin.display(description="member", ordering="username")
    def member(self, obj):
        return member_link(obj, is_member=obj.is_member)

    @admin.display(description="member")
    def member_page(self, obj):
        return member_link(obj, is_member=SeniorMember.objects.filter(pk=obj.user_id).exists())

    @admin.display(description="title", ordering="title")
    def title_shown(self, obj):
        return clamped(obj.title)

    @admin.display(description="company, country", ordering="company")
    def where(self, obj):
        return clamped(", ".join(part for part in (obj.company, obj.country) if part))

    @admin.display(description="where it went")
    def where_it_went(self, obj):
        return destinations_html(detections_destinations(detection_ids=[obj.pk]).get(obj.pk, []))

    def get_urls(self):
        correct = path(
            "<int:pk>/correct/", self.admin_site.admin_view(self.correct_redirect), name="detections_detection_correct"
        )
        return [correct, *super().get_urls()]

    def correct_redirect(self, request, pk):
        """The link a digest row carries: to its member's correction page (the admin login first).
        Only for those who may see detections: the redirect names the member."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        detection = get_object_or_404(Detection, pk=pk)
        return HttpResponseRedirect(reverse("admin:detections_member_correct", args=[detection.user_id]))

    @admin.display(description="sent to")
    def sent_to(self, obj):
        """The audiences that received it (digest or alert), and those it was left out for: a line per outcome."""
        return clamped_lines(destinations_lines(obj.destinations))


@admin.register(BackfillRun)
class BackfillRunAdmin(admin.ModelAdmin):
    """Backfills are started from the command line (they run for minutes); here they are watched."""

    list_display = ["id", "source", "mode", "status", "position", "read", "errors_count", "started_at", "finished_at"]
    list_filter = ["source", "mode", "status"]
    readonly_fields = [f.name for f in BackfillRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="rows read")
    def read(self, obj):
        return obj.counts.get("read", 0)

    @admin.display(description="errors")
    def errors_count(self, obj):
        return obj.counts.get("errors", 0)


@admin.register(CommunityGrant)
class CommunityGrantAdmin(ReadOnlyModelAdmin):
    """The community write-back: roles and badges given to senior members and taken from others."""

    list_display = ["user_id", "change", "reason", "status", "outcome", "updated_at"]
    list_filter = ["status", "kind", "wanted", "given_by_us", "updated_at"]
    search_fields = ["user_id", "name", "last_error", "result"]
    actions = ["retry"]

    @admin.display(description="change")
    def change(self, obj):
        return obj.change_text

    @admin.display(description="answer or error")
    def outcome(self, obj):
        return obj.outcome_text

    def has_retry_permission(self, request):
        return request.user.has_perm("detections.retry_communitygrant")

    @admin.action(description="Retry the selected failed changes now", permissions=["retry"])
    def retry(self, request, queryset):
        ids = list(queryset.filter(status=CommunityGrant.Status.FAILED).values_list("pk", flat=True))
        count = grants_retry(ids, user=request.user, via="admin")
        self.message_user(request, f"{count} failed changes queued again.", messages.SUCCESS)
