from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin

from .models import AuditEntry
from .services import audit_record


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit trail: read only, for everyone who may see it."""

    list_display = ["at", "username", "via", "action", "target", "details"]
    list_filter = ["action", "via", "username"]
    search_fields = ["username", "action", "target"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# The lockouts (django-axes): deleting an access attempt unlocks that user or address; recorded.
admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AuditedAccessAttemptAdmin(AccessAttemptAdmin):
    def delete_model(self, request, obj):
        audit_record(request.user, "login.unlock", via="admin", target=f"{obj.username} from {obj.ip_address}")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for attempt in queryset:
            audit_record(
                request.user, "login.unlock", via="admin", target=f"{attempt.username} from {attempt.ip_address}"
            )
        super().delete_queryset(request, queryset)
