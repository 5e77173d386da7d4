import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.postgres.forms import SimpleArrayField
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse, reverse_lazy
from django.utils import timezone
from django.utils.html import format_html

from classification.functions import FUNCTIONS
from classification.models import Function, Level
from core.admin import ReadOnlyModelAdmin, clamped, short_time, titled
from core.dates import day_text
from detections.selectors import companies_known

from . import addresses, rendering, selectors, services
from .models import Audience, ChannelCircuit, Digest, DigestDelivery
from .widgets import EntriesField, EntriesSelectMultiple, SearchableSelectMultiple

Status = DigestDelivery.Status


class DeliveryInline(admin.TabularInline):
    model = DigestDelivery
    fields = ["channel", "chunk", "status", "attempts", "next_attempt_at", "sent_at", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


COMPANY_SUGGESTIONS = 20  # the first, sorted: typing more narrows them


def detections_url(digest: Digest) -> str:
    """The detections list, of those `digest` carried (the detections admin allows the lookup)."""
    return f"{reverse('admin:detections_detection_changelist')}?receipts__digest__id__exact={digest.pk}"


@admin.register(Digest)
class DigestAdmin(ReadOnlyModelAdmin):
    """A digest records what was sent."""

    list_display = ["digest", "audience_name", "covers", "members", "detections", "left_out", "built"]
    list_display_links = ["digest"]
    list_filter = ["kind", "audience"]
    list_select_related = ["audience"]
    date_hierarchy = "week_ending"
    inlines = [DeliveryInline]
    change_list_template = "admin/digests/digest/change_list.html"

    @admin.display(description="digest", ordering="week_ending")
    def digest(self, obj):
        """Its kind and Friday, short: the audience has its own column, the kind its filter."""
        kind = {"weekly": "Weekly", "extra": f"Extra #{obj.pk}"}.get(obj.kind, f"{obj.get_kind_display()} #{obj.pk}")
        return clamped(f"{kind}, {day_text(obj.week_ending)}")

    @admin.display(description="audience", ordering="audience__name")
    def audience_name(self, obj):
        return clamped(obj.audience.name)

    @admin.display(description="built at", ordering="built_at")
    def built(self, obj):
        return short_time(obj.built_at)

    @admin.display(description="members", ordering="member_count")
    def members(self, obj):
        return obj.member_count

    readonly_fields = ["detections_listed"]

    @admin.display(description="detections", ordering="detection_count")
    def detections(self, obj):
        """Its count, linked to the detections it carried."""
        return format_html('<a href="{}">{}</a>', detections_url(obj), f"{obj.detection_count:,}")

    @admin.display(description="its detections")
    def detections_listed(self, obj):
        count = obj.detection_count
        shown = f"{count:,} detection{'' if count == 1 else 's'}, listed"
        return format_html('<a href="{}">{}</a>', detections_url(obj), shown)

    @admin.display(description="left out", ordering="left_out_count")
    def left_out(self, obj):
        return obj.left_out_count

    @admin.display(description="covers", ordering="covers_from")
    def covers(self, obj):
        """The days its detections were made on, in New York time."""
        if obj.covers_from is None or obj.built_at is None:
            return "—"
        return rendering.digest_covers(obj.covers_from, obj.built_at)

    def get_urls(self):
        send = path("send/", self.admin_site.admin_view(self.send_view), name="digests_digest_send")
        return [send, *super().get_urls()]

    def send_view(self, request):
        """Send extra digests now: GET shows what each audience would get and where; POST sends them."""
        if not request.user.has_perm("digests.send_digest"):
            raise PermissionDenied
        if request.method == "POST":
            build = services.digest_build_and_send(Digest.Kind.EXTRA, user=request.user, via="admin")
            waiting = len(selectors.detections_waiting(now=timezone.now()))
            level = messages.SUCCESS if build.digests else messages.WARNING
            self.message_user(request, services.build_summary(build, waiting=waiting), level)
            shown = request.POST.get("shown", "")
            if shown.isdigit() and int(shown) != len(build.detection_ids):
                self.message_user(
                    request,
                    f"The page showed {shown} detections; {len(build.detection_ids)} went: the list changed meanwhile "
                    "(new detections, or another send).",
                    messages.WARNING,
                )
            return HttpResponseRedirect(reverse("admin:digests_digest_changelist"))
        plan = selectors.digest_plan(now=timezone.now())
        for audience_plan in plan.audiences:
            audience_plan.left_out_named = left_out_named(audience_plan.composition.left_out)
        context = {
            **self.admin_site.each_context(request),
            "title": "Send extra digests now?",
            "opts": self.model._meta,
            "plan": plan,
            "detection_count": len(plan.detection_ids),
            "left_out": len({pk for item in plan.audiences for pk in item.composition.left_out}),
        }
        return TemplateResponse(request, "admin/digests/digest/send_confirm.html", context)


@admin.register(DigestDelivery)
class DigestDeliveryAdmin(admin.ModelAdmin):
    list_display = ["delivery", "preview_link", "status", "bot_run", "tries", "when", "short_error"]
    list_display_links = ["delivery"]
    list_filter = [
        "status",
        "channel",
        ("digest__audience", titled("audience", admin.RelatedFieldListFilter)),
        ("digest__week_ending", titled("week ending", admin.DateFieldListFilter)),
    ]
    list_select_related = ["digest__audience"]
    search_fields = ["deployment_id", "last_error", "run_message"]
    date_hierarchy = "created_at"
    actions = ["send_now", "resend"]
    readonly_fields = [
        "digest",
        "channel",
        "chunk",
        "chunk_count",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_until",
        "sent_at",
        "deployment_id",
        "deployed_at",
        "run_status",
        "run_message",
        "run_checked_at",
        "last_error",
        "created_at",
        "updated_at",
    ]
    exclude = ["content"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="delivery", ordering="digest__week_ending")
    def delivery(self, obj):
        return clamped(obj)

    @admin.display(description="tries", ordering="attempts")
    def tries(self, obj):
        return obj.attempts

    @admin.display(description="when", ordering="next_attempt_at")
    def when(self, obj):
        """One time, the one that matters: when it went, or when it is tried next."""
        if obj.sent_at:
            return f"sent {short_time(obj.sent_at)}"
        if obj.status in (Status.PENDING, Status.RETRYING):
            return f"next {short_time(obj.next_attempt_at)}"
        return "—"

    @admin.display(description="bot run", ordering="run_status")
    def bot_run(self, obj):
        """The Control Room's last word on the run: its status, and its message when it gave one;
        the deployment's id on hover (and on the page)."""
        if not obj.run_status:
            return "—"
        text = f"{obj.run_status}: {obj.run_message}" if obj.run_message else obj.run_status
        hover = f"{text} (deployment {obj.deployment_id})" if obj.deployment_id else text
        return format_html('<span class="cp-clamp" title="{}">{}</span>', hover, text)

    @admin.display(description="error")
    def short_error(self, obj):
        return clamped(obj.last_error) if obj.last_error else ""

    @admin.display(description="preview")
    def preview_link(self, obj):
        return format_html('<a href="{}">preview</a>', reverse("admin:digests_delivery_preview", args=[obj.pk]))

    def has_send_permission(self, request):
        return request.user.has_perm("digests.send_digest")

    @admin.action(description="Send selected pending/retrying deliveries now…", permissions=["send"])
    def send_now(self, request, queryset):
        waiting = queryset.filter(status__in=[Status.PENDING, Status.RETRYING])
        if not request.POST.get("confirmed"):
            return self._send_confirm(request, queryset, waiting, "send_now", "Send these deliveries now?")
        ids = list(waiting.values_list("pk", flat=True))
        due = services.deliveries_make_due(user=request.user, via="admin", delivery_ids=ids)
        services.deliveries_send_enqueue()
        self.message_user(request, f"{due} deliveries queued for sending.", messages.SUCCESS)
        return None

    @admin.action(description="Send selected deliveries again (dead, failed or sent)…", permissions=["send"])
    def resend(self, request, queryset):
        again = queryset.exclude(status=Status.SENDING)
        if not request.POST.get("confirmed"):
            return self._send_confirm(request, queryset, again, "resend", "Send these deliveries again?")
        ids = list(again.values_list("pk", flat=True))
        count = services.deliveries_resend(user=request.user, via="admin", delivery_ids=ids)
        services.deliveries_send_enqueue()
        self.message_user(request, f"{count} deliveries queued to be sent again.", messages.SUCCESS)
        return None

    def _send_confirm(self, request, chosen, going, action, title):
        """The page that asks before an action sends: each delivery that would go, and to whom."""
        going = list(going.select_related("digest__audience"))
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "action": action,
            "chosen": chosen,
            "going": [(delivery, services.delivery_address_text(delivery)) for delivery in going],
            "skipped": chosen.count() - len(going),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/digests/delivery_send_confirm.html", context)

    def get_urls(self):
        preview = path(
            "<int:pk>/preview/", self.admin_site.admin_view(self.preview_view), name="digests_delivery_preview"
        )
        companies = path(
            "companies/", self.admin_site.admin_view(self.companies_view), name="digests_audience_companies"
        )
        return [preview, companies, *super().get_urls()]

    def companies_view(self, request):
        """The company form field's suggestions, in Select2's shape: senior members' companies and email
        domains that contain what was typed. Only for those who may add or change an audience."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        found = companies_known(term=request.GET.get("term", "")[:255], limit=COMPANY_SUGGESTIONS)
        results = [{"id": entry, "text": entry} for entry in found]
        return JsonResponse({"results": results, "pagination": {"more": False}})

    def preview_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        delivery = get_object_or_404(DigestDelivery.objects.select_related("digest__audience"), pk=pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview: {delivery}",
            "opts": self.model._meta,
            "delivery": delivery,
            "content": delivery.content,
            "address": services.delivery_address_text(delivery),
            "card_json": json.dumps(delivery.content.get("message"), indent=2, ensure_ascii=False),
        }
        return TemplateResponse(request, "admin/digests/delivery_preview.html", context)


@admin.register(ChannelCircuit)
class ChannelCircuitAdmin(admin.ModelAdmin):
    list_display = ["channel", "state", "consecutive_failures", "opened_until", "open_count", "updated_at"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False


class AudienceForm(forms.ModelForm):
    """Ticks for levels, functions and kinds; countries and companies searched as typed (companies
    also take any name or domain, the known ones suggested); one recipient per line."""

    levels = forms.MultipleChoiceField(
        choices=Level.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=Audience._meta.get_field("levels").help_text,
    )
    functions = forms.MultipleChoiceField(
        choices=Function.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=Audience._meta.get_field("functions").help_text,
    )
    kinds = forms.MultipleChoiceField(
        choices=Audience._meta.get_field("kinds").base_field.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=Audience._meta.get_field("kinds").help_text,
    )
    email_to = SimpleArrayField(
        forms.EmailField(),
        delimiter="\n",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=Audience._meta.get_field("email_to").help_text,
    )
    teams_webhook_url = forms.URLField(
        max_length=2000,
        required=False,
        assume_scheme="https",
        widget=forms.PasswordInput(render_value=False),  # a secret: never sent back to the browser
        help_text="A Teams Workflows webhook. Its query string is a secret: it is never shown again, and leaving "
        "this empty keeps the one set.",
    )
    teams_webhook_remove = forms.BooleanField(required=False, label="Remove the Teams webhook")
    companies = EntriesField(
        max_length=Audience._meta.get_field("companies").base_field.max_length,
        required=False,
        widget=EntriesSelectMultiple(
            placeholder="Every company: type a company name or an email domain",
            suggest_url=reverse_lazy("admin:digests_audience_companies"),
        ),
        help_text=Audience._meta.get_field("companies").help_text,
    )

    class Meta:
        model = Audience
        widgets = {"countries": SearchableSelectMultiple(placeholder="Every country: type a country's name")}
        fields = [
            "name",
            "is_active",
            "levels",
            "functions",
            "kinds",
            "countries",
            "companies",
            "cadence",
            "alerts_per_hour",
            "email_to",
            "teams_webhook_url",
            "use_settings_channels",
            "starts_at",
        ]

    def clean_email_to(self):
        return [address.strip() for address in self.cleaned_data["email_to"] if address.strip()]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("teams_webhook_remove"):
            cleaned["teams_webhook_url"] = ""
        elif not cleaned.get("teams_webhook_url") and self.instance.pk:
            cleaned["teams_webhook_url"] = self.instance.teams_webhook_url  # empty: keep the one set
        self.instance.teams_webhook_url = cleaned.get("teams_webhook_url", "")
        return cleaned


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    """Who hears about which executives. Saving and deleting go through the same services as the API."""

    form = AudienceForm
    list_display = ["audience_name", "preview_link", "cadence", "filter_text", "channels", "is_active"]
    list_display_links = ["audience_name"]
    list_filter = ["cadence", ("is_active", titled("active", admin.BooleanFieldListFilter))]
    search_fields = ["name"]
    actions = None  # deleting goes one at a time, through the page that says what becomes of its deliveries
    fieldsets = [
        (None, {"fields": ["name", "is_active", "cadence", "alerts_per_hour", "starts_at"]}),
        ("Who it hears about", {"fields": ["levels", "functions", "kinds", "countries", "companies"]}),
        (
            "Where it goes",
            {
                "fields": [
                    "email_to",
                    "teams_webhook",
                    "teams_webhook_url",
                    "teams_webhook_remove",
                    "use_settings_channels",
                ]
            },
        ),
    ]
    readonly_fields = ["teams_webhook"]

    @admin.display(description="Teams webhook set")
    def teams_webhook(self, obj):
        """Which workflow it posts to, by host: the URL itself is a secret."""
        if not (obj and obj.teams_webhook_url):
            return "none"
        return addresses.address_text("teams", {"webhook_url": obj.teams_webhook_url})

    def get_fieldsets(self, request, obj=None):
        """Someone who may only look sees where the webhook goes, never the URL (a read-only field shows its value)."""
        fieldsets = super().get_fieldsets(request, obj)
        may_edit = self.has_change_permission(request, obj) or (obj is None and self.has_add_permission(request))
        hidden = set() if may_edit else {"teams_webhook_url", "teams_webhook_remove"}
        if not (obj and obj.teams_webhook_url):
            hidden.add("teams_webhook_remove")  # nothing to remove
        if not hidden:
            return fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for name, options in fieldsets
        ]

    def get_queryset(self, request):
        return super().get_queryset(request).live()

    @admin.display(description="name", ordering="name")
    def audience_name(self, obj):
        return clamped(obj.name)

    @admin.display(description="filter")
    def filter_text(self, obj):
        parts = [
            "/".join(rendering.LEVEL_LABELS.get(level, level) for level in obj.levels),
            "/".join(FUNCTIONS.get(function, function) for function in obj.functions),
            "/".join(obj.kinds),
            ", ".join(str(code) for code in obj.countries),
            ", ".join(obj.companies[:3]) + (" …" if len(obj.companies) > 3 else ""),
        ]
        return clamped(" · ".join(part for part in parts if part) or "everyone")

    @admin.display(description="channels")
    def channels(self, obj):
        labels = {"email": "Email", "teams": "Teams"}
        recipients = selectors.audience_recipients(obj)
        return clamped("; ".join(f"{labels[channel]}: {where}" for channel, where in recipients.items()) or "none")

    @admin.display(description="preview")
    def preview_link(self, obj):
        return format_html(
            '<a href="{}">what it would get now</a>', reverse("admin:digests_audience_preview", args=[obj.pk])
        )

    def save_model(self, request, obj, form, change):
        for warning in services.audience_save(obj, user=request.user, via="admin"):
            self.message_user(request, warning, messages.WARNING)

    def get_deleted_objects(self, objs, request):
        """Deleting cancels or finishes deliveries and archives an audience with digests: nothing
        is cascaded or protected, so the page lists only the audience (the template says the rest)."""
        perms_needed = set() if self.has_delete_permission(request) else {"audience"}
        return [str(obj) for obj in objs], {"audiences": len(objs)}, perms_needed, []

    def delete_view(self, request, object_id, extra_context=None):
        audience = self.get_object(request, object_id)
        if audience is not None:
            in_flight = list(services.audience_in_flight(audience).select_related("digest__audience"))
            cancellable = sum(1 for d in in_flight if d.status in (DigestDelivery.Status.PENDING, Status.RETRYING))
            extra_context = {
                **(extra_context or {}),
                "in_flight": in_flight,
                "cancellable": cancellable,
                "finishing": len(in_flight) - cancellable,
                "has_digests": audience.digests.exists(),
            }
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        deletion = services.audience_delete(obj, user=request.user, via="admin", cancel_in_flight=True)
        if deletion.cancelled or deletion.finishing:
            self.message_user(
                request,
                f"{len(deletion.cancelled)} deliveries cancelled, {len(deletion.finishing)} already with the bot "
                "left to finish.",
                messages.WARNING,
            )

    def get_urls(self):
        preview = path(
            "<int:pk>/preview/", self.admin_site.admin_view(self.preview_view), name="digests_audience_preview"
        )
        companies = path(
            "companies/", self.admin_site.admin_view(self.companies_view), name="digests_audience_companies"
        )
        return [preview, companies, *super().get_urls()]

    def companies_view(self, request):
        """The company form field's suggestions, in Select2's shape: senior members' companies and email
        domains that contain what was typed. Only for those who may add or change an audience."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        found = companies_known(term=request.GET.get("term", "")[:255], limit=COMPANY_SUGGESTIONS)
        results = [{"id": entry, "text": entry} for entry in found]
        return JsonResponse({"results": results, "pagination": {"more": False}})

    def preview_view(self, request, pk):
        """What the audience would get if its digest were built now, and the email as it would look."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        audience = get_object_or_404(Audience.objects.live(), pk=pk)
        preview = services.digest_preview(audience)
        preview.plan.left_out_named = left_out_named(preview.plan.composition.left_out)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview: {audience.name}",
            "opts": self.model._meta,
            "audience": audience,
            "audience_plan": preview.plan,
            "filter": audience_filter_lines(audience),
            "matching": services.audience_matching_members(audience),
            "warnings": services.audience_warnings(audience),
            "email": preview.email,
            "chunk_count": preview.chunk_count,
        }
        return TemplateResponse(request, "admin/digests/audience/preview.html", context)


# Why a detection would be left out, said of now (Receipt.LeftOut says it of a digest built).
_LEFT_OUT_WHY = {
    "not_senior": "the member is no longer senior",
    "not_csuite": "a promotion to C-suite, but the member is back to VP (they went out as VP before)",
}


def left_out_named(left_out: dict[int, str]) -> list[dict]:
    """Who each left-out detection is of, and why, for the plan's page: a count alone says nothing."""
    detections = selectors.detections_named(left_out)
    return [
        {
            "name": detection.username or f"member {detection.user_id}",
            "title": detection.title,
            "why": _LEFT_OUT_WHY.get(left_out[detection.pk], left_out[detection.pk]),
            "url": reverse("admin:detections_detection_change", args=[detection.pk]),
        }
        for detection in detections
    ]


def audience_filter_lines(audience: Audience) -> list[tuple[str, str]]:
    """The preview's account of the filter, one line per part, saying "every" for an empty one."""
    kinds = dict(Audience._meta.get_field("kinds").base_field.choices)
    companies = ", ".join(audience.companies[:10])
    if len(audience.companies) > 10:
        companies += f" … ({len(audience.companies)} in all)"
    levels = ", ".join(rendering.LEVEL_LABELS.get(level, level) for level in audience.levels)
    functions = ", ".join(FUNCTIONS.get(function, function) for function in audience.functions)
    return [
        ("Levels", levels or "every level"),
        ("Functions", functions or "every function"),
        ("Kinds", ", ".join(str(kinds.get(kind, kind)) for kind in audience.kinds) or "both"),
        ("Countries", ", ".join(str(code) for code in audience.countries) or "every country"),
        ("Companies", companies or "every company"),
    ]
