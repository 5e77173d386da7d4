"""Where an audience's deliveries go: its own recipients, or the environment's for the audience
that keeps the installation's behaviour (Audience.use_settings_channels)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

# The setting that holds each channel's recipients (production's start-up check names them too).
RECIPIENT_SETTINGS = {"email": "DIGEST_EMAIL_TO", "teams": "DIGEST_TEAMS_WEBHOOK_URL"}


def settings_channels() -> list[str]:
    """The channels in DIGEST_CHANNELS."""
    return [channel for channel in RECIPIENT_SETTINGS if channel in settings.DIGEST_CHANNELS]


def audience_channels(audience) -> list[str]:
    """The channels an audience's digests have deliveries on."""
    if audience.use_settings_channels:
        return settings_channels()
    return [channel for channel in RECIPIENT_SETTINGS if audience_address(audience, channel)[_KEY[channel]]]


_KEY = {"email": "recipients", "teams": "webhook_url"}


def audience_address(audience, channel: str) -> dict:
    """Where an audience's deliveries on `channel` go now: {"recipients": [...]} or {"webhook_url": ...};
    empty when it has none (a delivery is then refused, never sent to nobody)."""
    if audience.use_settings_channels:
        if channel == "email":
            return {"recipients": [address.strip() for address in settings.DIGEST_EMAIL_TO if address.strip()]}
        return {"webhook_url": settings.DIGEST_TEAMS_WEBHOOK_URL.strip()}
    if channel == "email":
        return {"recipients": [address.strip() for address in audience.email_to if address.strip()]}
    return {"webhook_url": audience.teams_webhook_url.strip()}


def missing_text(audience, channel: str) -> str:
    """Why an audience has nobody on a channel, for an operator."""
    if audience.use_settings_channels:
        return f"{RECIPIENT_SETTINGS[channel]} is empty"
    return f"the audience {audience.name!r} has no {'email recipients' if channel == 'email' else 'Teams webhook'}"


def address_text(channel: str, address: dict, *, missing: str = "no recipients") -> str:
    """Where a channel's deliveries go, for an operator: the email addresses, or the Teams
    workflow's host (its URL's query is a signature that grants posting, so it is not shown)."""
    if channel == "email":
        text = ", ".join(address.get("recipients") or [])
    else:
        url = address.get("webhook_url") or ""
        text = f"the Teams workflow at {urlsplit(url).hostname}" if url else ""
    return text or f"nobody: {missing}"
