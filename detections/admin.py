from django.contrib import admin, messages
from django.template.response import TemplateResponse

from access.services import audit_record
from core.admin import ReadOnlyModelAdmin

from .models import BackfillRun, Detection, RawEvent, SeniorMember, TrackedField
from .selectors import tracked_fields_cache_clear
from .services.processing import events_retry_failed
from .services.reclassification import members_reclassify


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

    list_display = ["id", "received_at", "user_id", "username", "field", "value", "outcome", "processed_at", "why"]
    list_filter = ["event_type", "outcome", ("processed_at", admin.EmptyFieldListFilter), "received_at"]
    search_fields = ["user_id", "username", "value", "delivery_id", "error"]
    date_hierarchy = "received_at"
    actions = ["retry_failed"]

    def has_retry_permission(self, request):
        return request.user.has_perm("detections.retry_rawevent")

    @admin.display(description="error")
    def why(self, obj):
        return obj.error[:80]

    @admin.action(description="Retry the failed events of the selected events' members", permissions=["retry"])
    def retry_failed(self, request, queryset):
        """The members' failed events go back on the pending list, in order, for the worker."""
        user_ids = sorted(set(queryset.values_list("user_id", flat=True)))
        count = events_retry_failed(user_ids=user_ids)
        audit_record(request.user, "events.retry", via="admin", target=f"{len(user_ids)} members", user_ids=user_ids)
        self.message_user(request, f"{count} failed events of {len(user_ids)} members queued again.", messages.SUCCESS)


@admin.register(SeniorMember)
class SeniorMemberAdmin(ReadOnlyModelAdmin):
    """Kept by processing (webhooks, backfill, reclassification), never typed in."""

    list_display = ["user_id", "username", "title", "level", "company", "country", "first_detected_at", "last_seen_at"]
    list_filter = ["level", "rules_version", ("enrichment_error", admin.EmptyFieldListFilter)]
    search_fields = ["user_id", "username", "title", "company", "country"]
    date_hierarchy = "first_detected_at"
    actions = ["reclassify"]

    def has_reclassify_permission(self, request):
        return request.user.has_perm("detections.reclassify_seniormember")

    @admin.action(
        description="Reclassify selected members under the active rules (dry run first)", permissions=["reclassify"]
    )
    def reclassify(self, request, queryset):
        """First a dry run listing the changes; applying them is a second, confirmed POST."""
        user_ids = list(queryset.values_list("pk", flat=True))
        if request.POST.get("apply") == "yes":
            changes, read = members_reclassify(dry_run=False, user_ids=user_ids)
            audit_record(
                request.user, "members.reclassify", via="admin", target=f"{read} members", changed=len(changes)
            )
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


def receipts_text(receipts) -> str:
    """'EMEA (digest), Board (alert), Everyone (left out: not senior)'."""
    parts = []
    for receipt in receipts:
        how = f"left out: {receipt.get_left_out_display().lower()}" if receipt.left_out else receipt.stream
        parts.append(f"{receipt.audience} ({how})")
    return ", ".join(parts)


@admin.register(Detection)
class DetectionAdmin(ReadOnlyModelAdmin):
    """History: a detection is a snapshot of what was detected."""

    list_display = ["detected_at", "kind", "level", "username", "title", "company", "country", "sent_to"]
    list_filter = ["kind", "level", ("receipts", admin.EmptyFieldListFilter), "detected_at"]
    search_fields = ["user_id", "username", "title", "company"]
    date_hierarchy = "detected_at"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("receipts__audience")

    @admin.display(description="sent to")
    def sent_to(self, obj):
        """The audiences that received it (digest or alert), and those it was left out for."""
        return receipts_text(obj.receipts.all()) or "—"


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
