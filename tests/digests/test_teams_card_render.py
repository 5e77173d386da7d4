"""The Teams card as a person sees it: rendered by the official Adaptive Cards renderer (npm
`adaptivecards`, tests/js/) in headless Chromium, with Markdown on as Teams has it."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from digests import services
from digests.models import DigestDelivery
from tests.factories import SeniorDetectionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.browser]

PAGE = Path(__file__).resolve().parents[1] / "js" / "adaptive_card.html"
# What members type that Markdown would turn into something else.
TYPED = [
    "**Chief** _Executive_ Officer",
    "1. CEO",
    "+ VP of Sales",
    "- Vice-President",
    "<b>CFO</b> & <i>COO</i>",
    "VP, see https://evil.example/x",
    "[CEO](https://evil.example) (interim) [sic]",
    "Chief \\*Growth\\* Officer ~~VP~~ `CTO` # President > SVP | EVP",
]


def rendered_texts(browser, card: dict) -> list[str]:
    if not (PAGE.parent / "node_modules" / "adaptivecards").is_dir():
        pytest.fail("tests/js/node_modules is missing: `make test` installs it (npm ci --prefix tests/js)")
    browser.get(PAGE.as_uri())
    return browser.execute_script(
        "const host = window.renderCard(arguments[0]);"
        "return Array.from(host.querySelectorAll('.ac-richTextBlock, .ac-textBlock'), e => e.innerText);",
        card,
    )


def card_for(**detection) -> dict:
    SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1), **detection)
    services.digest_build_weekly()
    return DigestDelivery.objects.get(channel="teams").content["message"]["attachments"][0]["content"]


@pytest.mark.parametrize("typed", TYPED)
def test_member_text_shows_exactly_as_typed(browser, typed):
    card = card_for(username=typed, title=typed, company=typed, country=typed, level="csuite")

    texts = rendered_texts(browser, card)

    assert f"{typed} — C-suite · Other" in texts  # the name, level and function
    assert typed in texts  # the title, alone on its line
    assert any(text.startswith(f"Company: {typed} · Country: ") for text in texts)


def test_the_harness_renders_markdown_where_teams_would(browser):
    """The same text in a TextBlock is interpreted: the renderer would catch a card that used one."""
    card = {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "**Chief** 1. CEO"}]}

    (text,) = rendered_texts(browser, card)

    assert text != "**Chief** 1. CEO" and "Chief" in text


def test_right_to_left_overrides_do_not_reach_the_card(browser):
    card = card_for(username="Eve \u202egnp.exe", title="VP of \u2067Sales\u2069", level="vp")

    texts = rendered_texts(browser, card)

    assert "Eve gnp.exe — VP · Other" in texts and "VP of Sales" in texts


def test_the_function_shows_after_the_level(browser):
    card = card_for(username="Fay Lin", title="首席财务官", level="csuite", function="finance")

    texts = rendered_texts(browser, card)

    assert "Fay Lin — C-suite · Finance" in texts and "首席财务官" in texts
