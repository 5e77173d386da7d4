"""What the email and the Teams card say, and that member text cannot inject anything."""

import json
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from digests import rendering, services
from digests.models import DigestDelivery
from tests.factories import SeniorDetectionFactory

pytestmark = pytest.mark.django_db
HOSTILE = '<script>alert("x")</script> **Boss** [click](http://evil.example) =HYPERLINK("x")'


@pytest.fixture(autouse=True)
def _midweek(time_machine):
    """Detections an hour old at a fixed Wednesday noon in New York: an hour back from just after
    midnight is yesterday, and the digest would then span two days."""
    time_machine.move_to(datetime(2026, 12, 9, 12, 0, tzinfo=ZoneInfo("America/New_York")), tick=False)


def build(**detection):
    SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1), **detection)
    services.digest_build_weekly()
    return {d.channel: d.content for d in DigestDelivery.objects.all()}


def test_email_lists_each_entry_with_its_details(settings):
    settings.COMMUNITY_PROFILE_URL_TEMPLATE = "https://community.example.com/members/{username}-{user_id}"
    content = build(
        user_id="42",
        username="Jane Roe",
        title="Chief Revenue Officer",
        level="csuite",
        company="Acme",
        country="Canada",
    )["email"]

    assert content["recipients"] == settings.DIGEST_EMAIL_TO
    assert content["subject"] == "Senior executives detected: Dec 9, 2026"
    for text in ("Jane Roe", "Chief Revenue Officer", "C-suite", "Acme", "Canada"):
        assert text in content["html"] and text in content["text"]
    assert 'href="https://community.example.com/members/Jane%20Roe-42"' in content["html"]


def test_member_html_is_escaped_in_the_email():
    content = build(username=HOSTILE, title=HOSTILE, company="<b>Acme</b>")["email"]

    assert "<script>" not in content["html"] and "<b>Acme</b>" not in content["html"]
    assert "&lt;script&gt;" in content["html"]
    assert "<script>" in content["text"]  # plain text is not HTML: shown as typed


def test_member_text_is_only_in_text_runs_of_the_teams_card():
    """TextRuns are never read as Markdown; a TextBlock or a FactSet value would be. What a person
    sees is checked by rendering the card (test_teams_card_render.py)."""
    card = build(username=HOSTILE, title=HOSTILE, company=HOSTILE, country=HOSTILE)["teams"]["message"]
    content = card["attachments"][0]["content"]
    text = json.dumps(content)

    assert '"TextBlock"' not in text and '"FactSet"' not in text
    inlines = [run for block in _blocks(content["body"]) for run in block["inlines"]]
    runs = [run if isinstance(run, str) else run["text"] for run in inlines]
    assert runs.count(HOSTILE) == 2  # the name and the title, each a run of its own, as typed
    assert any(run.startswith(f"Company: {HOSTILE} · Country: ") for run in runs)
    assert not any("\\" in run for run in runs)  # no backslash escapes
    assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert content["type"] == "AdaptiveCard"


def _blocks(items):
    for item in items:
        if item["type"] == "Container":
            yield from _blocks(item["items"])
        else:
            assert item["type"] == "RichTextBlock"
            yield item


def test_bidirectional_overrides_are_removed_from_email_and_card():
    content = build(username="Eve \u202egnp.exe", title="VP \u2066of\u2069 Sales \u200f")

    for text in (content["email"]["html"], content["email"]["text"], json.dumps(content["teams"], ensure_ascii=False)):
        assert not any(ch in text for ch in "\u202e\u2066\u2069\u200f")
    assert "Eve gnp.exe" in content["email"]["text"] and "VP of Sales" in content["email"]["text"]


def test_control_characters_are_removed():
    content = build(username="Jane\r\nBcc: everyone@example.com\x07", title="VP\tSales")["email"]

    assert "\r" not in content["text"].replace("\r\n", "") and "\x07" not in content["text"]
    assert "Jane Bcc: everyone@example.com" in content["text"]


def test_the_teams_card_stays_under_28_kb_with_the_largest_entries(settings):
    settings.DIGEST_CHUNK_SIZE = 10
    big = "Ω" * 1000  # multi-byte characters, at the webhook's length limits
    for _ in range(25):
        SeniorDetectionFactory(
            username=big[:255],
            title=big,
            company=big[:255],
            country=big[:255],
            detected_at=timezone.now() - timedelta(hours=1),
        )

    services.digest_build_weekly()

    cards = [d.content["message"] for d in DigestDelivery.objects.filter(channel="teams")]
    assert all(rendering.message_bytes(card) < 28 * 1024 for card in cards)
    assert sum(len(card["attachments"][0]["content"]["body"]) - 1 for card in cards) == 25


def test_a_card_that_would_be_too_large_is_split_by_size(settings):
    settings.DIGEST_TEAMS_MAX_BYTES = 8 * 1024
    for _ in range(10):
        SeniorDetectionFactory(title="Ω" * 1000, detected_at=timezone.now() - timedelta(hours=1))

    services.digest_build_weekly()

    cards = [d.content["message"] for d in DigestDelivery.objects.filter(channel="teams")]
    assert len(cards) > 1
    assert all(rendering.message_bytes(card) <= 8 * 1024 for card in cards)


def test_chunks_pack_respects_count_and_size(settings):
    settings.DIGEST_CHUNK_SIZE = 3
    entry = rendering.Entry("n", "t", "VP", False, "c", "x", date(2026, 1, 2), None, "")

    chunks = rendering.chunks_pack([entry] * 7, title="Senior executives detected: Nov 29, 2026")

    assert [len(c) for c in chunks] == [3, 3, 1]


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [
        (date(2026, 11, 29), date(2026, 11, 29), "Nov 29, 2026"),
        (date(2026, 11, 22), date(2026, 11, 29), "Nov 22 – Nov 29, 2026"),
        (date(2026, 12, 28), date(2027, 1, 1), "Dec 28, 2026 – Jan 1, 2027"),
    ],
)
def test_the_dates_a_digest_covers_read_as_written(start, end, text):
    assert rendering.covers_text(start, end) == text


@pytest.mark.parametrize(
    ("promoted", "detected", "promoted_on", "level", "when"),
    [
        (False, date(2026, 11, 20), None, "VP", "Nov 20, 2026"),
        (True, date(2026, 11, 20), date(2026, 11, 22), "VP → C-suite", "Nov 20, 2026; promoted Nov 22, 2026"),
        (True, None, date(2026, 11, 22), "VP → C-suite", "Promoted Nov 22, 2026"),
        (True, date(2026, 11, 22), date(2026, 11, 22), "VP → C-suite", "Nov 22, 2026, promoted the same day"),
    ],
)
def test_a_row_says_what_happened_and_when(promoted, detected, promoted_on, level, when):
    entry = rendering.Entry("n", "t", "C-suite" if promoted else "VP", promoted, "", "", detected, promoted_on, "")

    assert (entry.level_text, entry.detected_text) == (level, when)


@pytest.mark.django_db
def test_each_row_links_to_its_correction_page_which_asks_for_a_login_first(settings, client):
    from detections.models import Detection
    from digests.models import DigestDelivery
    from digests.services import digest_build_extra
    from tests.factories import SeniorDetectionFactory

    settings.ADMIN_PUBLIC_URL = "https://captpathfinder.example.com/"
    SeniorDetectionFactory(username="Jane Roe", title="CFO", level="csuite")
    digest_build_extra()
    detection = Detection.objects.get()
    path = f"/admin/detections/detection/{detection.pk}/correct/"

    email = DigestDelivery.objects.get(channel="email").content
    card = json.dumps(DigestDelivery.objects.get(channel="teams").content["message"])

    assert f'<a href="https://captpathfinder.example.com{path}"' in email["html"]
    assert f"Not right? Correct it: https://captpathfinder.example.com{path}" in email["text"]
    assert f"https://captpathfinder.example.com{path}" in card and '"selectAction"' in card
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")


def test_each_row_shows_what_the_executive_runs_on_every_channel():
    content = build(username="Fay Lin", title="CFO", level="csuite", function="finance", company="Acme")

    html, text = content["email"]["html"], content["email"]["text"]
    assert '<th style="padding:8px;">Function</th>' in html and '<td style="padding:8px;">Finance</td>' in html
    assert "- Fay Lin: CFO (C-suite) · Finance" in text
    runs = [
        run if isinstance(run, str) else run["text"]
        for block in _blocks(content["teams"]["message"]["attachments"][0]["content"]["body"])
        for run in block["inlines"]
    ]
    assert " — C-suite · Finance" in runs  # after the name: "Fay Lin — C-suite · Finance"


def test_a_function_stored_outside_the_list_is_shown_neutralised():
    """The label comes from Function; a value written past it (by SQL) shows as stored, one line."""
    from detections.models import SeniorMember

    SeniorDetectionFactory(username="Odd", detected_at=timezone.now() - timedelta(hours=1))
    SeniorMember.objects.update(function="<b>x\u202e\r\ny</b>")
    services.digest_build_weekly()
    content = {d.channel: d.content for d in DigestDelivery.objects.all()}

    assert "&lt;b&gt;x y&lt;/b&gt;" in content["email"]["html"] and "<b>x" not in content["email"]["html"]
    assert "(VP) · <b>x y</b>" in content["email"]["text"]
    assert "\u202e" not in json.dumps(content["teams"], ensure_ascii=False)


@pytest.mark.parametrize(
    ("function", "shown"),
    [("engineering", "VP · Engineering and technology"), ("customer", "VP · Customer (success, support, experience)")],
)
def test_a_row_names_the_function_by_its_label(function, shown):
    from detections.models import SeniorMember

    member = SeniorMember(user_id="1", username="A", title="VP", level="vp", function=function)
    entry = rendering.entry_for_member(member, [SimpleNamespace(id=1, kind="first", detected_at=timezone.now())])

    assert entry.role_text == shown
