"""Who may deliver webhooks: HTTP Basic (how inSided authenticates) or Standard Webhooks.

Either configured method admits a delivery. Secrets compare in constant time; signatures are
verified by the `standardwebhooks` package (HMAC-SHA256, 5-minute timestamp tolerance).
"""

import base64
import binascii
import hmac

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework import authentication, exceptions
from standardwebhooks.webhooks import Webhook


class WebhookSender:
    """The authenticated party behind a delivery (DRF wants a user-like object)."""

    is_authenticated = True

    def __init__(self, method: str, delivery_id: str | None = None) -> None:
        self.method = method
        self.delivery_id = delivery_id


def basic_auth_configured() -> bool:
    return bool(settings.WEBHOOK_BASIC_AUTH_USERNAME and settings.WEBHOOK_BASIC_AUTH_PASSWORD)


def signing_configured() -> bool:
    return bool(settings.WEBHOOK_SIGNING_SECRET)


def webhook_auth_assert_configured() -> None:
    """Refuse to start with an open webhook unless DEBUG is on (local development)."""
    if not (basic_auth_configured() or signing_configured() or settings.DEBUG):
        raise ImproperlyConfigured(
            "No webhook authentication configured: set WEBHOOK_BASIC_AUTH_USERNAME and "
            "WEBHOOK_BASIC_AUTH_PASSWORD, or WEBHOOK_SIGNING_SECRET (or DEBUG=true for development)."
        )
    if signing_configured():
        try:
            Webhook(settings.WEBHOOK_SIGNING_SECRET)
        except Exception as exc:
            raise ImproperlyConfigured(f"WEBHOOK_SIGNING_SECRET is not a valid whsec_ secret: {exc}") from exc


class WebhookAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        if not (basic_auth_configured() or signing_configured()):
            return (WebhookSender("none (DEBUG)"), None)  # only reachable with DEBUG on
        if signing_configured() and "HTTP_WEBHOOK_SIGNATURE" in request.META:
            return self._verify_signature(request)
        if basic_auth_configured() and request.META.get("HTTP_AUTHORIZATION", "").startswith("Basic "):
            return self._verify_basic(request)
        raise exceptions.NotAuthenticated("Webhook credentials are missing.")

    def authenticate_header(self, request):
        return 'Basic realm="webhooks"' if basic_auth_configured() else "Webhook-Signature"

    @staticmethod
    def _verify_basic(request):
        try:
            decoded = base64.b64decode(request.META["HTTP_AUTHORIZATION"][6:], validate=True).decode("utf-8")
            username, _, password = decoded.partition(":")
        except (binascii.Error, ValueError):  # ValueError: non-ASCII; UnicodeDecodeError is one too
            raise exceptions.AuthenticationFailed("Malformed Basic credentials.") from None
        user_ok = hmac.compare_digest(username.encode(), settings.WEBHOOK_BASIC_AUTH_USERNAME.encode())
        password_ok = hmac.compare_digest(password.encode(), settings.WEBHOOK_BASIC_AUTH_PASSWORD.encode())
        if not (user_ok and password_ok):
            raise exceptions.AuthenticationFailed("Invalid Basic credentials.")
        return (WebhookSender("basic"), None)

    @staticmethod
    def _verify_signature(request):
        headers = {
            "webhook-id": request.META.get("HTTP_WEBHOOK_ID", ""),
            "webhook-timestamp": request.META.get("HTTP_WEBHOOK_TIMESTAMP", ""),
            "webhook-signature": request.META.get("HTTP_WEBHOOK_SIGNATURE", ""),
        }
        try:
            Webhook(settings.WEBHOOK_SIGNING_SECRET).verify(request.body, headers, json_parse=False)
        except Exception:  # the library raises its own error, or ValueError/binascii on junk headers
            raise exceptions.AuthenticationFailed("Invalid or expired webhook signature.") from None
        return (WebhookSender("signature", delivery_id=headers["webhook-id"]), None)
