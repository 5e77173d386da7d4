"""POST /api/classify: its bounds, and rules that cannot hold the web process."""

import time

import pytest

from classification import services
from classification.models import StoredRuleset

pytestmark = pytest.mark.django_db

# The incident's pattern: under Python's backtracking re, 45 x's stopped the web process.
CATASTROPHIC_ROLE = "  - id: none.incident\n    level: none\n    pattern: '(?:x+x+)+y'\n"


@pytest.fixture
def catastrophic_rules_active(settings, admin_user, django_capture_on_commit_callbacks):
    """The shipped rules plus the incident's pattern, stored and activated as an operator would."""
    settings.CLASSIFICATION_RELOAD_SECONDS = 0
    content = services.ruleset_shipped_text().replace("roles:\n", "roles:\n" + CATASTROPHIC_ROLE, 1)
    content = content.replace('version: "', 'version: "incident-', 1)
    with django_capture_on_commit_callbacks(execute=True):
        stored = services.ruleset_store(content=content, change_note="the incident", user=admin_user, activate=True)
    assert services.ruleset_active().version == stored.version
    yield stored
    StoredRuleset.objects.update(is_active=False)
    services.ruleset_reload(force=True)


def test_a_catastrophic_pattern_is_stored_and_harmless(staff_api, catastrophic_rules_active):
    # When a caller asks about the title that stopped the web process
    started = time.perf_counter()
    response = staff_api.post("/api/classify", {"titles": ["x" * 45, "x" * 1000, "CFO"]}, format="json")

    # Then the answer comes at once, from the stored rules
    assert time.perf_counter() - started < 1.0
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["level"] for r in results] == [None, None, "csuite"]
    assert {r["rules_version"] for r in results} == {catastrophic_rules_active.version}


@pytest.mark.parametrize(
    "setting,value,titles,named",
    [
        ("CLASSIFY_API_MAX_TITLES", 3, ["CEO"] * 4, "At most 3 titles per call (CLASSIFY_API_MAX_TITLES)"),
        (
            "CLASSIFY_API_MAX_TITLE_LENGTH",
            20,
            ["CEO", "Chief Executive Officer, Acme"],
            "at most 20 characters (CLASSIFY_API_MAX_TITLE_LENGTH); title 1 has 29",
        ),
    ],
)
def test_titles_and_their_length_are_bounded(staff_api, settings, setting, value, titles, named):
    setattr(settings, setting, value)

    response = staff_api.post("/api/classify", {"titles": titles}, format="json")

    assert response.status_code == 400
    assert named in response.json()["fields"]["titles"][0]


def test_the_defaults_admit_a_full_call(staff_api, settings):
    titles = [f"VP of Sales {i} " + "x" * (settings.CLASSIFY_API_MAX_TITLE_LENGTH - 20) for i in range(1000)]

    response = staff_api.post("/api/classify", {"titles": titles}, format="json")

    assert response.status_code == 200 and len(response.json()["results"]) == 1000


def test_a_call_that_takes_too_long_is_a_400_naming_the_limit(staff_api, settings):
    # Given a tiny time budget and titles the cache has not seen
    settings.CLASSIFY_API_MAX_SECONDS = 0.01
    titles = [f"Senior Vice President {i} " + "of things " * 90 for i in range(1000)]

    response = staff_api.post("/api/classify", {"titles": titles}, format="json")

    assert response.status_code == 400
    message = response.json()["fields"]["titles"][0]
    assert "longer than 0.01 s (CLASSIFY_API_MAX_SECONDS)" in message
