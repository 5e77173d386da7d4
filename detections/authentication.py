"""Who may deliver webhooks: HTTP Basic (how inSided authenticates) or Standard Webhooks.

inSided sends HTTP Basic, the credentials of its webhook subscription; it never signs. The
Standard Webhooks signature is for a relay that signs what it forwards. Either configured method
admits a delivery. Secrets compare in constant time; signatures are
verified by the `standardwebhooks` package (HMAC-SHA256, 5-minute timestamp tolerance).
"""

import base64
import binascii
import hmac

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from standardwebhooks.webhooks import Webhook


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


def webhook_sender_precheck(request) -> str | None:
    """What the headers alone prove, before the body is read: "basic" or "none" (as
    `webhook_sender_verify`), or None when only the signature can tell, over the body.

    A delivery without credentials, or with wrong Basic ones and no signature, is refused here: a
    sender that sends headers and then dribbles (or withholds) the body is not waited for unless
    it has proved who it is.
    """
    try:
        if not (basic_auth_configured() or signing_configured()):
            return "none"
        signed = signing_configured() and "HTTP_WEBHOOK_SIGNATURE" in request.META
        if basic_auth_configured() and _basic_credentials(request) is not None:
            try:
                return _basic_verify(request)
            except exceptions.AuthenticationFailed:
                if not signed:
                    raise
        if not signed:
            raise exceptions.NotAuthenticated("Webhook credentials are missing.")
        return None
    except (exceptions.NotAuthenticated, exceptions.AuthenticationFailed) as exc:
        exc.auth_header = _challenge()
        raise


def _challenge() -> str:
    return 'Basic realm="webhooks"' if basic_auth_configured() else "Webhook-Signature"


def webhook_sender_verify(request) -> str:
    """How the delivery proved who sent it ("basic", "signature", or "none" with DEBUG and no
    method configured); NotAuthenticated or AuthenticationFailed, carrying the WWW-Authenticate
    value to answer with, when it did not.

    Each configured method the delivery attempts is tried; any one that verifies admits it (a
    relay may add a signature to inSided's Basic credentials, or the reverse).
    """
    try:
        if not (basic_auth_configured() or signing_configured()):
            return "none"  # only reachable with DEBUG on (webhook_auth_assert_configured)
        attempts = []
        if signing_configured() and "HTTP_WEBHOOK_SIGNATURE" in request.META:
            attempts.append(_signature_verify)
        if basic_auth_configured() and _basic_credentials(request) is not None:
            attempts.append(_basic_verify)
        if not attempts:
            raise exceptions.NotAuthenticated("Webhook credentials are missing.")
        failures = []
        for verify in attempts:
            try:
                return verify(request)
            except exceptions.AuthenticationFailed as exc:
                failures.append(exc)
        raise (
            failures[0]
            if len(failures) == 1
            else exceptions.AuthenticationFailed(" ".join(str(exc.detail) for exc in failures))
        )
    except (exceptions.NotAuthenticated, exceptions.AuthenticationFailed) as exc:
        exc.auth_header = _challenge()
        raise


def _basic_credentials(request) -> str | None:
    """The credentials of an `Authorization: Basic …` header; the scheme is case-insensitive
    (RFC 7617, RFC 9110 §11.1)."""
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    return credentials.strip() if scheme.lower() == "basic" else None


def _basic_verify(request) -> str:
    try:
        decoded = base64.b64decode(_basic_credentials(request) or "", validate=True).decode("utf-8")
        username, _, password = decoded.partition(":")
    except (binascii.Error, ValueError):  # ValueError: non-ASCII; UnicodeDecodeError is one too
        raise exceptions.AuthenticationFailed("Malformed Basic credentials.") from None
    user_ok = hmac.compare_digest(username.encode(), settings.WEBHOOK_BASIC_AUTH_USERNAME.encode())
    password_ok = hmac.compare_digest(password.encode(), settings.WEBHOOK_BASIC_AUTH_PASSWORD.encode())
    if not (user_ok and password_ok):
        raise exceptions.AuthenticationFailed("Invalid Basic credentials.")
    return "basic"


def _signature_verify(request) -> str:
    headers = {
        "webhook-id": request.META.get("HTTP_WEBHOOK_ID", ""),
        "webhook-timestamp": request.META.get("HTTP_WEBHOOK_TIMESTAMP", ""),
        "webhook-signature": request.META.get("HTTP_WEBHOOK_SIGNATURE", ""),
    }
    try:
        Webhook(settings.WEBHOOK_SIGNING_SECRET).verify(request.body, headers, json_parse=False)
    except Exception:  # the library raises its own error, or ValueError/binascii on junk headers
        raise exceptions.AuthenticationFailed("Invalid or expired webhook signature.") from None
    return "signature"
