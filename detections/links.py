"""Links to a member and a detection, for what is sent out (digests, alerts, CRM tasks): the
member's community profile and the admin page that corrects a detection."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from django.conf import settings


def profile_url(user_id: str, username: str) -> str:
    """The member's community profile (COMMUNITY_PROFILE_URL_TEMPLATE); "" when unset or not http(s)."""
    template = settings.COMMUNITY_PROFILE_URL_TEMPLATE
    if not template:
        return ""
    url = template.format(user_id=quote(user_id, safe=""), username=quote(username, safe=""))
    return url if urlsplit(url).scheme in ("http", "https") else ""


def correct_url(detection_id: int) -> str:
    """The admin page where an operator corrects the row (ADMIN_PUBLIC_URL; none when unset). The
    link grants nothing: the admin asks for a login and the correction permission."""
    base = settings.ADMIN_PUBLIC_URL.rstrip("/")
    if not base or urlsplit(base).scheme not in ("http", "https"):
        return ""
    return f"{base}/admin/detections/detection/{detection_id}/correct/"
