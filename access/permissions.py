"""The API's permission check: staff, and the model permissions each view declares."""

from __future__ import annotations

from rest_framework.permissions import BasePermission


class StaffWithModelPermissions(BasePermission):
    """Allow a staff user who holds every permission the view names in `required_permissions`
    (a tuple for every method, or a dict of method → tuple). A view that names none is refused:
    a new endpoint is closed until it says what it needs."""

    message = "Your account lacks the permission this needs."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        required = getattr(view, "required_permissions", None)
        if isinstance(required, dict):
            required = required.get(request.method, required.get("*"))
        if required is None:
            return False
        return user.has_perms(required)
