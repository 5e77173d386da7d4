"""The ruleset pages of the admin: add a version, try titles, switch rulesets."""

import pytest
from django.urls import reverse

from classification import services
from classification.models import StoredRuleset

pytestmark = pytest.mark.django_db
GOOD = 'version: "admin-1"\nroles:\n  - id: csuite.ceo\n    level: csuite\n    pattern: ceo\n'


@pytest.fixture(autouse=True)
def _reload_after(settings):
    settings.CLASSIFICATION_RELOAD_SECONDS = 0
    yield
    StoredRuleset.objects.update(is_active=False)
    services.ruleset_reload(force=True)


def test_add_form_starts_from_the_active_rules(admin_client):
    response = admin_client.get(reverse("admin:classification_storedruleset_add"))

    assert response.status_code == 200
    assert services.ruleset_active().version in response.content.decode()


def test_adding_a_valid_ruleset_stores_and_activates_it(admin_client, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:classification_storedruleset_add"),
            {"content": GOOD, "change_note": "CEO only", "activate": "on"},
        )

    assert response.status_code == 302
    stored = StoredRuleset.objects.get()
    assert (stored.version, stored.is_active, stored.created_by) == ("admin-1", True, admin_user)
    assert services.ruleset_active().version == "admin-1"


def test_an_invalid_ruleset_shows_the_error_and_stores_nothing(admin_client):
    response = admin_client.post(
        reverse("admin:classification_storedruleset_add"),
        {"content": GOOD.replace("csuite\n", "boss\n", 1), "change_note": "typo"},
    )

    assert response.status_code == 200
    assert "unknown level" in response.content.decode()
    assert not StoredRuleset.objects.exists()


def test_try_titles_shows_level_function_and_deciding_rule(admin_client):
    response = admin_client.post(reverse("admin:classification_try_titles"), {"titles": "EVP & CFO\nIntern\n<b>x</b>"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "csuite.cxo" in page and "veto" not in page.split("Intern")[0][-50:]
    assert "<td>csuite</td><td>finance</td>" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page  # titles are escaped


def test_changelist_links_to_try_titles_and_change_page_is_read_only(admin_client):
    stored = services.ruleset_store(content=GOOD, change_note="x")

    changelist = admin_client.get(reverse("admin:classification_storedruleset_changelist"))
    change = admin_client.get(reverse("admin:classification_storedruleset_change", args=[stored.pk]))

    assert reverse("admin:classification_try_titles") in changelist.content.decode()
    assert change.status_code == 200
    assert "<textarea" not in change.content.decode()


def test_activate_and_back_to_the_shipped_file_actions(admin_client, django_capture_on_commit_callbacks):
    stored = services.ruleset_store(content=GOOD, change_note="x")
    url = reverse("admin:classification_storedruleset_changelist")

    asked = admin_client.post(url, {"action": "activate", "_selected_action": [stored.pk]})
    assert asked["Location"] == reverse("admin:classification_activate", args=[stored.pk])  # shows the impact first
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(asked["Location"])
    assert services.ruleset_active().version == "admin-1"

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"action": "use_shipped_file", "_selected_action": [stored.pk]})
    assert services.ruleset_active().version != "admin-1"


def test_the_list_shows_the_ruleset_in_force_even_with_none_stored(admin_client):
    active = services.ruleset_active()

    page = admin_client.get(reverse("admin:classification_storedruleset_changelist")).content.decode()

    assert f"In force: ruleset {active.version}</strong>, from the shipped file classification/rulesets/" in page
    assert active.content_hash[:12] in page and "Go back to the shipped file" in page


def test_back_to_the_shipped_file_and_reload_work_without_a_stored_ruleset(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        shipped = admin_client.post(reverse("admin:classification_use_shipped_file"), follow=True)
    reloaded = admin_client.post(reverse("admin:classification_reload_now"), follow=True)

    assert "The shipped ruleset file is active again." in shipped.content.decode()
    assert f"Ruleset {services.ruleset_active().version} loaded." in reloaded.content.decode()
    assert admin_client.get(reverse("admin:classification_reload_now")).status_code == 403  # POST only


def test_the_buttons_need_the_change_permission(client, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_storedruleset"))
    client.force_login(viewer)

    page = client.get(reverse("admin:classification_storedruleset_changelist")).content.decode()

    assert "In force: ruleset" in page and "Go back to the shipped file" not in page
    assert client.post(reverse("admin:classification_use_shipped_file")).status_code == 403


def test_a_pattern_re2_cannot_run_is_refused_naming_it(admin_client):
    content = GOOD + "vetoes:\n  - id: veto.past\n    where: before\n    pattern: 'former(?!.*now)'\n"

    response = admin_client.post(
        reverse("admin:classification_storedruleset_add"), {"content": content, "change_note": "lookahead"}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "veto veto.past: bad pattern &#x27;former(?!.*now)&#x27;: RE2 cannot run negative lookahead" in page
    assert not StoredRuleset.objects.exists()
