"""Admin pieces shared by the apps."""

from django.contrib import admin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Records the services own (history, snapshots, the audit trail): viewed in the admin, never
    added, changed or deleted there, not even by a superuser."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
