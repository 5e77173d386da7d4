from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from core.admin import ReadOnlyModelAdmin

from .models import AuditEntry
from .services import audit_record


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyModelAdmin):
    """The audit trail: read only, for everyone who may see it."""

    list_display = ["at", "username", "via", "action", "target", "details"]
    list_filter = ["action", "via", "username"]
    search_fields = ["username", "action", "target"]
    date_hierarchy = "at"


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
