"""What a digest chunk looks like on each channel.

Member-supplied text (names, titles, companies) is untrusted: the email HTML is rendered by a
Jinja2 template (digests/jinja2/, through Django's Jinja2 backend) with autoescaping; the Teams
card puts it only in TextRuns, which Adaptive Cards never read as Markdown (a TextBlock or a
FactSet value would, and backslash escapes show literally on some Teams clients); control and
bidirectional formatting characters are removed everywhere (core.text.one_line).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template.loader import render_to_string

from core.text import one_line
from detections.models import Detection

LEVEL_LABELS = {"csuite": "C-suite", "vp": "VP"}
KIND_LABELS = {"first": "New senior executive", "promotion": "Promoted to C-suite"}


@dataclass(frozen=True)
class Entry:
    name: str
    title: str
    level: str
    kind: str
    company: str
    country: str
    detected: date
    profile_url: str

    # Display strings prepared here rather than with template filters and conditions: the
    # digest of a 10,000-detection week renders 2,000 bodies, and filters dominated that time.
    @property
    def level_text(self) -> str:
        return self.level if self.kind == KIND_LABELS["first"] else f"{self.level} ({self.kind})"

    @property
    def company_text(self) -> str:
        return self.company or "—"

    @property
    def country_text(self) -> str:
        return self.country or "—"

    @property
    def detected_text(self) -> str:
        """'Nov 20, 2026', formatted here: the template `date` filter was half the render time."""
        return f"{self.detected:%b} {self.detected.day}, {self.detected.year}"


def profile_url(user_id: str, username: str) -> str:
    template = settings.COMMUNITY_PROFILE_URL_TEMPLATE
    if not template:
        return ""
    url = template.format(user_id=quote(user_id, safe=""), username=quote(username, safe=""))
    return url if urlsplit(url).scheme in ("http", "https") else ""


def entry_from_detection(detection: Detection) -> Entry:
    local = ZoneInfo(settings.TIME_ZONE)
    return Entry(
        name=one_line(detection.username or f"Member {detection.user_id}", 120),
        title=one_line(detection.title),
        level=LEVEL_LABELS.get(detection.level, detection.level),
        kind=KIND_LABELS.get(detection.kind, detection.kind),
        company=one_line(detection.company, 120),
        country=one_line(detection.country, 80),
        detected=detection.detected_at.astimezone(local).date(),
        profile_url=profile_url(detection.user_id, detection.username),
    )


def heading(week_ending: date, chunk: int, chunk_count: int) -> str:
    part = f" ({chunk}/{chunk_count})" if chunk_count > 1 else ""
    return f"{settings.DIGEST_EMAIL_SUBJECT} — week ending {week_ending:%b %d, %Y}{part}"


# The setting that holds each channel's recipients (production's start-up check names them too).
RECIPIENT_SETTINGS = {"email": "DIGEST_EMAIL_TO", "teams": "DIGEST_TEAMS_WEBHOOK_URL"}


def channel_address(channel: str) -> dict:
    """Where a channel's deliveries go, from the settings: the email recipients or the Teams
    webhook. Empty when the channel has none (production does not start that way)."""
    if channel == "email":
        return {"recipients": [address for address in settings.DIGEST_EMAIL_TO if address.strip()]}
    return {"webhook_url": settings.DIGEST_TEAMS_WEBHOOK_URL.strip()}


def email_render(entries: list[Entry], *, week_ending: date, chunk: int, chunk_count: int) -> dict:
    context = {"entries": entries, "heading": heading(week_ending, chunk, chunk_count), "week_ending": week_ending}
    return {
        **channel_address("email"),
        "subject": context["heading"],
        "html": render_to_string("digests/email.html", context, using="jinja2"),
        "text": email_text(entries, heading=context["heading"]),
    }


def email_text(entries: list[Entry], *, heading: str) -> str:
    """The plain-text body. Not HTML, so nothing to escape (control characters are already
    gone); built directly rather than through a template, which cost as much as the HTML body."""
    lines = [heading, ""]
    for entry in entries:
        lines.append(f"- {entry.name}: {entry.title} ({entry.level_text})")
        lines.append(
            f"  Company: {entry.company_text} · Country: {entry.country_text} · Detected: {entry.detected_text}"
        )
        if entry.profile_url:
            lines.append(f"  {entry.profile_url}")
    lines += ["", "Sent by CaptPathfinder.", ""]
    return "\n".join(lines)


def literal(*runs: str | tuple[str, dict], spacing: str = "Default") -> dict:
    """A RichTextBlock of TextRuns: shown exactly as given, never read as Markdown. A run without
    a style is a plain string (the schema's shorthand for a TextRun), which keeps cards small."""
    inlines = [{"type": "TextRun", "text": run[0], **run[1]} if isinstance(run, tuple) else run for run in runs]
    block = {"type": "RichTextBlock", "inlines": inlines}
    return block if spacing == "Default" else {**block, "spacing": spacing}


_BOLD = {"weight": "Bolder"}


def teams_entry(entry: Entry) -> dict:
    """Three lines: who and why, the title as typed, then company, country and date (as the
    email's text version has them)."""
    details = f"Company: {entry.company_text} · Country: {entry.country_text} · Detected: {entry.detected_text}"
    container = {
        "type": "Container",
        "separator": True,
        "items": [
            literal((entry.name, _BOLD), f" — {entry.level_text}"),
            literal(entry.title, spacing="None"),
            literal(details, spacing="None"),
        ],
    }
    if entry.profile_url:
        container["selectAction"] = {"type": "Action.OpenUrl", "url": entry.profile_url}
    return container


def teams_card(entries: list[Entry], *, week_ending: date, chunk: int, chunk_count: int) -> dict:
    """The Teams message envelope with one Adaptive Card, as a Workflows webhook expects it."""
    title = literal((heading(week_ending, chunk, chunk_count), {"size": "Medium", "weight": "Bolder"}))
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [title, *(teams_entry(entry) for entry in entries)],
                },
            }
        ],
    }


def message_bytes(message: dict) -> int:
    return len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode())


def teams_render(entries: list[Entry], *, week_ending: date, chunk: int, chunk_count: int) -> dict:
    message = teams_card(entries, week_ending=week_ending, chunk=chunk, chunk_count=chunk_count)
    return {**channel_address("teams"), "message": message}


@functools.lru_cache(maxsize=20_000)
def _entry_bytes(entry: Entry) -> int:
    """An entry's share of a card (its container and a comma), measured once per entry."""
    return message_bytes(teams_entry(entry)) + 1


def chunks_pack(entries: list[Entry], *, week_ending: date) -> list[list[Entry]]:
    """Split entries into chunks of at most DIGEST_CHUNK_SIZE whose Teams card stays under the limit.

    A card's size is its empty size plus each entry's size plus one comma per entry, so each
    entry is measured once. The heading is sized for the worst case (chunk 999/999).
    """
    empty = message_bytes(teams_card([], week_ending=week_ending, chunk=999, chunk_count=999))
    chunks: list[list[Entry]] = []
    current: list[Entry] = []
    size = empty
    for entry in entries:
        entry_size = _entry_bytes(entry)
        if current and (
            len(current) >= settings.DIGEST_CHUNK_SIZE or size + entry_size > settings.DIGEST_TEAMS_MAX_BYTES
        ):
            chunks.append(current)
            current, size = [], empty
        current.append(entry)
        size += entry_size
    if current:
        chunks.append(current)
    return chunks
