import json

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from access.services import audit_record
from core.admin import ReadOnlyModelAdmin

from . import rendering, selectors, services
from .models import ChannelCircuit, Digest, DigestDelivery

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


@admin.register(Digest)
class DigestAdmin(ReadOnlyModelAdmin):
    """A digest records what was sent."""

    list_display = ["__str__", "kind", "covers", "member_count", "detection_count", "left_out_count", "built_at"]
    list_filter = ["kind"]
    date_hierarchy = "week_ending"
    inlines = [DeliveryInline]
    change_list_template = "admin/digests/digest/change_list.html"

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
        """Send an extra digest now: GET shows what would go out and to whom; POST sends it."""
        if not request.user.has_perm("digests.send_digest"):
            raise PermissionDenied
        if request.method == "POST":
            build = services.digest_build_and_send(Digest.Kind.EXTRA)
            audit_record(
                request.user,
                "digest.send_extra",
                via="admin",
                target=build.digest or "",
                detections=build.detection_ids,
            )
            level = messages.SUCCESS if build.digest else messages.WARNING
            self.message_user(request, services.build_summary(build), level)
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
        context = {
            **self.admin_site.each_context(request),
            "title": "Send an extra digest now?",
            "opts": self.model._meta,
            "plan": plan,
            "rows": plan.composition.rows,
            "left_out": len(plan.composition.left_out),
        }
        return TemplateResponse(request, "admin/digests/digest/send_confirm.html", context)


@admin.register(DigestDelivery)
class DigestDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "status",
        "bot_run",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "short_error",
        "deployment",
        "preview_link",
    ]
    list_filter = ["status", "channel", "digest__week_ending"]
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

    @admin.display(description="bot run", ordering="run_status")
    def bot_run(self, obj):
        """The Control Room's last word on the run: its status, and its message when it gave one."""
        if not obj.run_status:
            return "—"
        return f"{obj.run_status}: {obj.run_message[:60]}" if obj.run_message else obj.run_status

    @admin.display(description="deployment", ordering="deployment_id")
    def deployment(self, obj):
        """The start of the Control Room's deployment id (all of it on hover and on the page)."""
        if not obj.deployment_id:
            return "—"
        return format_html('<span title="{}">{}…</span>', obj.deployment_id, obj.deployment_id[:8])

    @admin.display(description="last error")
    def short_error(self, obj):
        return obj.last_error[:80]

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
        due = services.deliveries_make_due(delivery_ids=ids)
        audit_record(request.user, "delivery.send_now", via="admin", target=f"{len(ids)} deliveries", deliveries=ids)
        services.deliveries_send_enqueue()
        self.message_user(request, f"{due} deliveries queued for sending.", messages.SUCCESS)
        return None

    @admin.action(description="Send selected deliveries again (dead, failed or sent)…", permissions=["send"])
    def resend(self, request, queryset):
        again = queryset.exclude(status=Status.SENDING)
        if not request.POST.get("confirmed"):
            return self._send_confirm(request, queryset, again, "resend", "Send these deliveries again?")
        ids = list(again.values_list("pk", flat=True))
        count = services.deliveries_resend(delivery_ids=ids)
        audit_record(request.user, "delivery.resend", via="admin", target=f"{len(ids)} deliveries", deliveries=ids)
        services.deliveries_send_enqueue()
        self.message_user(request, f"{count} deliveries queued to be sent again.", messages.SUCCESS)
        return None

    def _send_confirm(self, request, chosen, going, action, title):
        """The page that asks before an action sends: each delivery that would go, and to whom."""
        going = list(going.select_related("digest"))
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
        return [preview, *super().get_urls()]

    def preview_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        delivery = get_object_or_404(DigestDelivery.objects.select_related("digest"), pk=pk)
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
