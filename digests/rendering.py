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
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template.loader import get_template
from markupsafe import Markup

from classification.functions import FUNCTIONS
from classification.models import Level
from core.text import one_line
from detections.links import correct_url, profile_url
from detections.models import Detection

LEVEL_LABELS = {"csuite": "C-suite", "vp": "VP"}


@dataclass(frozen=True)
class Entry:
    """One member's row: who they are now, and what happened since their last digest."""

    name: str
    title: str
    level: str
    promoted: bool  # VP → C-suite since the last digest
    company: str
    country: str
    detected: date | None  # None: not new, only promoted since their last digest
    promoted_on: date | None
    profile_url: str
    correct_url: str = ""  # the admin's correction page for the row's latest detection (login first)
    function: str = ""  # what they run, as its label ("Finance"); "" not known

    # Display strings prepared here rather than with template filters and conditions: the
    # digest of a 10,000-detection week renders 2,000 bodies, and filters dominated that time.
    @property
    def level_text(self) -> str:
        return f"{LEVEL_LABELS['vp']} → {self.level}" if self.promoted else self.level

    @property
    def role_text(self) -> str:
        """The level and what they run: 'C-suite · Finance', 'VP → C-suite · Sales'."""
        return f"{self.level_text} · {self.function}" if self.function else self.level_text

    @property
    def function_text(self) -> str:
        return self.function or "—"

    @property
    def company_text(self) -> str:
        return self.company or "—"

    @property
    def country_text(self) -> str:
        return self.country or "—"

    @property
    def detected_text(self) -> str:
        """'Nov 20, 2026'; with a promotion 'Nov 20, 2026; promoted Nov 22, 2026' (or 'promoted the
        same day'), or for a member already sent as VP 'Promoted Nov 22, 2026'. Formatted here:
        the template `date` filter was half the render time."""
        if self.promoted_on is None:
            return day_text(self.detected)
        if self.detected is None:
            return f"Promoted {day_text(self.promoted_on)}"
        if self.detected == self.promoted_on:
            return f"{day_text(self.detected)}, promoted the same day"
        return f"{day_text(self.detected)}; promoted {day_text(self.promoted_on)}"


@functools.lru_cache(maxsize=4096)
def day_text(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def entry_for_member(member, detections: list) -> Entry:
    """A member's row from their current state (selectors.MemberNow, or a SeniorMember: they
    may have changed title, company or level since a detection) and their detections waiting
    for this digest (oldest first; anything with `kind` and `detected_at`)."""
    local = ZoneInfo(settings.TIME_ZONE)
    # A member removed and detected again is new since their latest first detection; what came
    # before it is an earlier stint.
    firsts = [d for d in detections if d.kind == Detection.Kind.FIRST]
    since = firsts[-1].detected_at if firsts else None
    promotions = [
        d for d in detections if d.kind == Detection.Kind.PROMOTION and (since is None or d.detected_at >= since)
    ]
    promoted = bool(promotions) and member.level == Level.CSUITE
    return Entry(
        name=one_line(member.username or f"Member {member.user_id}", 120),
        title=one_line(member.title),
        level=LEVEL_LABELS.get(member.level, member.level),
        promoted=promoted,
        company=one_line(member.company, 120),
        country=one_line(member.country, 80),
        detected=since.astimezone(local).date() if since else None,
        promoted_on=promotions[-1].detected_at.astimezone(local).date() if promoted else None,
        profile_url=profile_url(member.user_id, member.username),
        correct_url=correct_url(detections[-1].id),
        function=one_line(FUNCTIONS.get(member.function, member.function or ""), 80),
    )


def digest_covers(covers_from: datetime, built_at: datetime) -> str:
    """The days from a digest's earliest detection to its build, in New York time."""
    local = ZoneInfo(settings.TIME_ZONE)
    return covers_text(covers_from.astimezone(local).date(), built_at.astimezone(local).date())


def covers_text(start: date, end: date) -> str:
    """The days a digest covers: 'Nov 29, 2026', 'Nov 22 – Nov 29, 2026', 'Dec 28, 2026 – Jan 2, 2027'."""
    if start >= end:
        return day_text(end)
    if start.year == end.year:
        return f"{start:%b} {start.day} – {day_text(end)}"
    return f"{day_text(start)} – {day_text(end)}"


def digest_title(kind: str, *, covers: str, audience_name: str, entries: list[Entry]) -> str:
    """A digest's subject without its chunk number. A weekly or extra digest names the days it
    covers; an alert names its one executive, or how many. An audience other than the installation's
    own is named, for people who receive several."""
    if kind in ("alert", "summary"):
        if len(entries) == 1:
            title = f"Senior executive detected: {entries[0].name}, {entries[0].title}"
        else:
            title = f"{len(entries)} senior executives detected"
        if kind == "summary":
            title = f"{title} (summary: over the hourly cap of alerts)"
        title = one_line(title, 200)
    else:
        title = f"{settings.DIGEST_EMAIL_SUBJECT}: {covers}"
    return f"{title} · {one_line(audience_name, 100)}" if audience_name else title


def heading(title: str, chunk: int, chunk_count: int) -> str:
    part = f" ({chunk}/{chunk_count})" if chunk_count > 1 else ""
    return f"{title}{part}"


# A row's email HTML, text and Teams container are made once per Entry and kept (bounded) for the
# next chunk or audience that has the same row: a Friday with twenty audiences renders each member's
# row once, not once per audience.
_ROWS_KEPT = 20_000


def email_render(entries: list[Entry], *, title: str, chunk: int, chunk_count: int) -> dict:
    context = {"rows": [email_row_html(entry) for entry in entries], "heading": heading(title, chunk, chunk_count)}
    return {
        "subject": context["heading"],
        "html": _template("digests/email.html").render(context),
        "text": email_text(entries, heading=context["heading"]),
    }


@functools.lru_cache(maxsize=_ROWS_KEPT)
def email_row_html(entry: Entry) -> Markup:
    """A member's table row, autoescaped by its Jinja2 template (digests/jinja2/digests/email_row.html)."""
    return Markup(_template("digests/email_row.html").render({"entry": entry}))  # noqa: S704


@functools.cache
def _template(name: str):
    """A Jinja2 template through Django's backend, looked up once: the lookup cost more than
    rendering a row."""
    return get_template(name, using="jinja2")


def email_text(entries: list[Entry], *, heading: str) -> str:
    """The plain-text body. Not HTML, so nothing to escape (control characters are already
    gone); built directly rather than through a template, which cost as much as the HTML body."""
    return "\n".join([heading, "", *(email_text_lines(entry) for entry in entries), "", "Sent by CaptPathfinder.", ""])


@functools.lru_cache(maxsize=_ROWS_KEPT)
def email_text_lines(entry: Entry) -> str:
    headline = f"- {entry.name}: {entry.title} ({entry.level_text})"
    lines = [
        f"{headline} · {entry.function}" if entry.function else headline,
        f"  Company: {entry.company_text} · Country: {entry.country_text} · Detected: {entry.detected_text}",
    ]
    if entry.profile_url:
        lines.append(f"  {entry.profile_url}")
    if entry.correct_url:
        lines.append(f"  Not right? Correct it: {entry.correct_url}")
    return "\n".join(lines)


def literal(*runs: str | tuple[str, dict], spacing: str = "Default") -> dict:
    """A RichTextBlock of TextRuns: shown exactly as given, never read as Markdown. A run without
    a style is a plain string (the schema's shorthand for a TextRun), which keeps cards small."""
    inlines = [{"type": "TextRun", "text": run[0], **run[1]} if isinstance(run, tuple) else run for run in runs]
    block = {"type": "RichTextBlock", "inlines": inlines}
    return block if spacing == "Default" else {**block, "spacing": spacing}


_BOLD = {"weight": "Bolder"}


@functools.lru_cache(maxsize=_ROWS_KEPT)
def teams_entry(entry: Entry) -> dict:
    """Three lines: who, their level and function, the title as typed, then company, country and
    date (as the email's text version has them). Kept and shared by every card with the row: never modify it."""
    details = f"Company: {entry.company_text} · Country: {entry.country_text} · Detected: {entry.detected_text}"
    container = {
        "type": "Container",
        "separator": True,
        "items": [
            literal((entry.name, _BOLD), f" — {entry.role_text}"),
            literal(entry.title, spacing="None"),
            literal(details, spacing="None"),
        ],
    }
    if entry.profile_url:
        container["selectAction"] = {"type": "Action.OpenUrl", "url": entry.profile_url}
    if entry.correct_url:
        action = {"type": "Action.OpenUrl", "url": entry.correct_url}
        container["items"].append(literal(("Not right? Correct it", {"selectAction": action}), spacing="None"))
    return container


def teams_card(entries: list[Entry], *, title: str, chunk: int, chunk_count: int) -> dict:
    """The Teams message envelope with one Adaptive Card, as a Workflows webhook expects it."""
    title = literal((heading(title, chunk, chunk_count), {"size": "Medium", "weight": "Bolder"}))
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


def teams_render(entries: list[Entry], *, title: str, chunk: int, chunk_count: int) -> dict:
    return {"message": teams_card(entries, title=title, chunk=chunk, chunk_count=chunk_count)}


@functools.lru_cache(maxsize=20_000)
def _entry_bytes(entry: Entry) -> int:
    """An entry's share of a card (its container and a comma), measured once per entry."""
    return message_bytes(teams_entry(entry)) + 1


def chunks_pack(entries: list[Entry], *, title: str) -> list[list[Entry]]:
    """Split entries into chunks of at most DIGEST_CHUNK_SIZE whose Teams card stays under the limit.

    A card's size is its empty size plus each entry's size plus one comma per entry, so each
    entry is measured once. The heading is sized for the worst case (chunk 999/999).
    """
    empty = message_bytes(teams_card([], title=title, chunk=999, chunk_count=999))
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
