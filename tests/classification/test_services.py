"""Which ruleset is active: the shipped file, an operator's stored ruleset, reloads and rejections."""

import pytest

from classification import services
from classification.engine import RulesetError
from classification.models import StoredRuleset

pytestmark = pytest.mark.django_db

STRICT = """
version: "{version}"
roles:
  - id: csuite.ceo-only
    level: csuite
    pattern: 'ceo'
vetoes: []
"""


@pytest.fixture
def ruleset_file(settings, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(STRICT.format(version="file-1"))
    settings.CLASSIFICATION_RULESET_PATH = str(path)
    settings.CLASSIFICATION_RELOAD_SECONDS = 0
    services.ruleset_reload(force=True)
    yield path
    settings.CLASSIFICATION_RULESET_PATH = settings.BASE_DIR / "classification" / "rulesets" / "default.yaml"
    services.ruleset_reload(force=True)


def test_a_changed_file_is_picked_up_without_a_restart(ruleset_file):
    assert services.classify("VP Sales").level is None

    ruleset_file.write_text(STRICT.format(version="file-2").replace("'ceo'", "'ceo|vp'").replace("csuite", "csuite", 1))

    assert services.ruleset_active().version == "file-2"
    assert services.classify("VP Sales").level == "csuite"


def test_an_invalid_file_is_rejected_and_the_previous_rules_stay(ruleset_file, caplog):
    ruleset_file.write_text("version: broken\nroles:\n  - {id: r, level: boss, pattern: x}\n")

    assert services.ruleset_active().version == "file-1"
    assert "rejected" in caplog.text and "unknown level 'boss'" in caplog.text


def test_a_stored_ruleset_overrides_the_file_once_active(ruleset_file, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        stored = services.ruleset_store(
            content=STRICT.format(version="ops-1").replace("'ceo'", "'cfo'"),
            change_note="CFOs only, for a test",
            user=admin_user,
            activate=True,
        )

    assert services.ruleset_active().version == "ops-1"
    assert services.classify("CFO").level == "csuite"
    assert (stored.created_by, stored.is_active) == (admin_user, True)

    with django_capture_on_commit_callbacks(execute=True):
        services.ruleset_deactivate_all(user=None, via="command")

    assert services.ruleset_active().version == "file-1"


def test_only_one_stored_ruleset_is_active(ruleset_file, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.ruleset_store(content=STRICT.format(version="a"), change_note="a", activate=True)
        second = services.ruleset_store(content=STRICT.format(version="b"), change_note="b", activate=True)

    assert list(StoredRuleset.objects.filter(is_active=True)) == [second]
    first.refresh_from_db()
    assert first.is_active is False


@pytest.mark.parametrize(
    "content,note,message",
    [
        ("version: x\nroles: []", "note", "non-empty list"),
        (STRICT.format(version="n"), "   ", "change note is required"),
    ],
)
def test_storing_an_invalid_ruleset_saves_nothing(content, note, message):
    with pytest.raises(RulesetError, match=message):
        services.ruleset_store(content=content, change_note=note)

    assert not StoredRuleset.objects.exists()


def test_a_version_cannot_be_stored_twice():
    services.ruleset_store(content=STRICT.format(version="v"), change_note="first")

    with pytest.raises(RulesetError, match="already stored"):
        services.ruleset_store(content=STRICT.format(version="v"), change_note="again")


def test_try_titles_uses_the_chosen_ruleset(ruleset_file):
    results = services.titles_try(titles=["CEO", "VP Sales", " "], ruleset=services.ruleset_for_choice("file"))

    assert [(title, d.level, d.rule) for title, d in results] == [
        ("CEO", "csuite", "csuite.ceo-only"),
        ("VP Sales", None, "default.no-senior-role"),
    ]


def test_a_stored_ruleset_re2_cannot_run_leaves_the_shipped_file_in_force(settings, caplog):
    # Given a ruleset stored and activated before the rules ran on RE2, with a lookbehind
    settings.CLASSIFICATION_RELOAD_SECONDS = 0
    old = STRICT.format(version="before-re2").replace("'ceo'", "'(?<!vice )president'")
    stored = StoredRuleset.objects.create(version="before-re2", content=old, content_hash="x" * 64, is_active=True)
    services._active.ruleset = None  # a process starting

    try:
        # When a process loads its rules
        ruleset = services.ruleset_active()

        # Then it classifies with the shipped file, and says why
        assert ruleset.version == services.Ruleset.from_text(services.ruleset_shipped_text()).version
        assert services.classify("CFO").level == "csuite"
        assert "negative lookbehind" in caplog.text
        assert "could not be loaded" in services.ruleset_in_force().origin
    finally:
        stored.delete()
        services.ruleset_reload(force=True)


def test_after_a_preload_the_first_use_checks_the_source_again(ruleset_file, settings):
    settings.CLASSIFICATION_RELOAD_SECONDS = 3600  # no periodic check within the test
    assert services.ruleset_preload().version == "file-1"

    # What happens between a worker's preload and its first batch: here, new rules in the file.
    ruleset_file.write_text(STRICT.format(version="file-2"))

    assert services.ruleset_active().version == "file-2"
    ruleset_file.write_text(STRICT.format(version="file-3"))
    assert services.ruleset_active().version == "file-2", "then the reload interval applies again"
