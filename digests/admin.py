import json

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from . import services
from .models import ChannelCircuit, Digest, DigestDelivery


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
class DigestAdmin(admin.ModelAdmin):
    list_display = ["week_ending", "detection_count", "chunk_count", "built_at"]
    date_hierarchy = "week_ending"
    readonly_fields = ["week_ending", "built_at", "detection_count", "chunk_count", "created_at"]
    inlines = [DeliveryInline]
    change_list_template = "admin/digests/digest/change_list.html"

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        build = path("build/", self.admin_site.admin_view(self.build_view), name="digests_digest_build")
        return [build, *super().get_urls()]

    def build_view(self, request):
        """Build this week's digest now (POST only: it changes data) and queue its sending."""
        if request.method == "POST":
            digest = services.digest_build_and_send()
            self.message_user(request, f"{digest}: {digest.detection_count} detections, {digest.chunk_count} chunks.")
        return HttpResponseRedirect(reverse("admin:digests_digest_changelist"))


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

    @admin.action(description="Send selected pending/retrying deliveries now")
    def send_now(self, request, queryset):
        due = services.deliveries_make_due(delivery_ids=list(queryset.values_list("pk", flat=True)))
        services.deliveries_send_enqueue()
        self.message_user(request, f"{due} deliveries queued for sending.", messages.SUCCESS)

    @admin.action(description="Send selected deliveries again (dead, failed or sent)")
    def resend(self, request, queryset):
        count = services.deliveries_resend(delivery_ids=list(queryset.values_list("pk", flat=True)))
        services.deliveries_send_enqueue()
        self.message_user(request, f"{count} deliveries queued to be sent again.", messages.SUCCESS)

    def get_urls(self):
        preview = path(
            "<int:pk>/preview/", self.admin_site.admin_view(self.preview_view), name="digests_delivery_preview"
        )
        return [preview, *super().get_urls()]

    def preview_view(self, request, pk):
        delivery = get_object_or_404(DigestDelivery.objects.select_related("digest"), pk=pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview: {delivery}",
            "opts": self.model._meta,
            "delivery": delivery,
            "content": delivery.content,
            "card_json": json.dumps(delivery.content.get("message"), indent=2, ensure_ascii=False),
        }
        return TemplateResponse(request, "admin/digests/delivery_preview.html", context)


@admin.register(ChannelCircuit)
class ChannelCircuitAdmin(admin.ModelAdmin):
    list_display = ["channel", "state", "consecutive_failures", "opened_until", "open_count", "updated_at"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False
