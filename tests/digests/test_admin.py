"""The digest pages of the admin: lists, preview, and the actions."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from digests import services
from digests.models import Audience, ChannelCircuit, Digest, DigestDelivery
from tests.factories import SeniorDetectionFactory, SeniorMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def digest(settings):
    settings.DIGEST_EMAIL_TO = ["exec-team@example.com"]
    settings.DIGEST_TEAMS_WEBHOOK_URL = "https://prod-1.westus.logic.azure.com/workflows/1/invoke?sig=SECRET"
    SeniorDetectionFactory(username='<img src=x onerror="alert(1)">', detected_at=timezone.now() - timedelta(hours=1))
    return services.digest_build_weekly().digest


def test_changelists_and_change_pages_render(admin_client, digest):
    ChannelCircuit.objects.create(channel="email")
    delivery = DigestDelivery.objects.first()
    for url in [
        reverse("admin:digests_digest_changelist"),
        reverse("admin:digests_digest_change", args=[digest.pk]),
        reverse("admin:digests_digestdelivery_changelist") + "?status__exact=pending",
        reverse("admin:digests_digestdelivery_change", args=[delivery.pk]),
        reverse("admin:digests_channelcircuit_changelist"),
    ]:
        assert admin_client.get(url).status_code == 200, url


def test_preview_shows_the_message_as_it_will_be_sent_and_escaped(admin_client, digest):
    email = DigestDelivery.objects.get(channel="email")
    teams = DigestDelivery.objects.get(channel="teams")

    email_page = admin_client.get(reverse("admin:digests_delivery_preview", args=[email.pk])).content.decode()
    teams_page = admin_client.get(reverse("admin:digests_delivery_preview", args=[teams.pk])).content.decode()

    assert "<iframe sandbox" in email_page
    assert '<img src=x onerror="alert(1)">' not in email_page
    assert email.content["subject"] in email_page
    assert "AdaptiveCard" in teams_page and "onerror" in teams_page and "<img" not in teams_page


def test_a_preview_leads_back_to_its_delivery_and_digest(admin_client, digest):
    teams = DigestDelivery.objects.get(channel="teams")

    page = admin_client.get(reverse("admin:digests_delivery_preview", args=[teams.pk])).content.decode()

    crumbs = page[page.index('<div class="breadcrumbs">') :].split("</div>")[0]
    assert f'href="{reverse("admin:digests_digest_change", args=[digest.pk])}"' in crumbs
    assert f'href="{reverse("admin:digests_digestdelivery_change", args=[teams.pk])}">Microsoft Teams 1/1</a>' in crumbs


def test_preview_names_the_teams_workflow_by_its_host_only(admin_client, digest, settings):
    teams = DigestDelivery.objects.get(channel="teams")

    page = admin_client.get(reverse("admin:digests_delivery_preview", args=[teams.pk])).content.decode()

    assert "the Teams workflow at prod-1.westus.logic.azure.com" in page and "SECRET" not in page


def test_send_actions_ask_first_showing_each_delivery_and_its_recipients(
    admin_client, digest, control_room, django_capture_on_commit_callbacks
):
    url = reverse("admin:digests_digestdelivery_changelist")
    ids = list(DigestDelivery.objects.values_list("pk", flat=True))
    DigestDelivery.objects.update(status="dead")

    asked = admin_client.post(url, {"action": "resend", "_selected_action": ids})
    assert asked.status_code == 200 and set(DigestDelivery.objects.values_list("status", flat=True)) == {"dead"}
    page = asked.content.decode()
    recipient = DigestDelivery.objects.get(channel="email").content["recipients"][0]
    assert "This <strong>sends</strong> 2 deliveries" in page and f"→ {recipient}" in page
    admin_client.post(url, {"action": "resend", "_selected_action": ids, "confirmed": "yes"})
    assert set(DigestDelivery.objects.values_list("status", flat=True)) == {"pending"}

    DigestDelivery.objects.update(next_attempt_at=timezone.now() + timedelta(hours=1))
    admin_client.post(url, {"action": "send_now", "_selected_action": ids})
    assert DigestDelivery.objects.filter(next_attempt_at__lte=timezone.now()).count() == 0
    admin_client.post(url, {"action": "send_now", "_selected_action": ids, "confirmed": "yes"})
    assert DigestDelivery.objects.filter(next_attempt_at__lte=timezone.now()).count() == 2


def test_send_now_asks_first_and_leaves_out_sent_deliveries(admin_client, digest):
    url = reverse("admin:digests_digestdelivery_changelist")
    DigestDelivery.objects.filter(channel="email").update(status="sent")
    ids = list(DigestDelivery.objects.values_list("pk", flat=True))

    page = admin_client.post(url, {"action": "send_now", "_selected_action": ids}).content.decode()

    assert "1 delivery" in page and "1 of the selected delivery is not in a state this action sends" in page


def test_the_extra_digest_button_asks_first_with_what_and_to_whom(admin_client, settings):
    settings.DIGEST_EMAIL_TO = ["exec-team@example.com"]
    settings.DIGEST_TEAMS_WEBHOOK_URL = "https://prod-1.westus.logic.azure.com/workflows/1/invoke?sig=SECRET"
    SeniorDetectionFactory(username="Ana Diaz", title="CFO", level="csuite", detected_at=timezone.now())

    changelist = admin_client.get(reverse("admin:digests_digest_changelist")).content.decode()
    page = admin_client.get(reverse("admin:digests_digest_send")).content.decode()

    assert reverse("admin:digests_digest_send") in changelist and "Send extra digests now" in changelist
    assert "sends</strong> each weekly audience with something new an extra digest now: 1 detection" in page
    assert "Everyone: 1 member" in page
    assert "Ana Diaz" in page and "exec-team@example.com" in page and "SECRET" not in page
    assert "the Teams workflow at prod-1.westus.logic.azure.com" in page
    assert "Friday's digests are not replaced: they go out on Fri" in page
    assert not DigestDelivery.objects.exists()  # asking sends nothing


def test_the_extra_digest_is_sent_on_confirmation(admin_client, django_capture_on_commit_callbacks):
    SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1))

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(reverse("admin:digests_digest_send"), follow=True)

    assert DigestDelivery.objects.count() == 2 and len(callbacks) == 1
    assert "Extra digest #" in response.content.decode() and "being sent" in response.content.decode()


def test_with_nothing_waiting_the_button_says_so_and_records_nothing(admin_client):
    page = admin_client.get(reverse("admin:digests_digest_send")).content.decode()
    response = admin_client.post(reverse("admin:digests_digest_send"), follow=True)

    assert "No weekly audience has anything new" in page and "Yes, send" not in page
    assert "Nothing to send" in response.content.decode()
    assert not Digest.objects.exists()


def test_preview_of_an_unknown_delivery_is_a_404(admin_client):
    assert admin_client.get(reverse("admin:digests_delivery_preview", args=[999999])).status_code == 404


def test_sending_warns_when_the_list_changed_since_the_page_was_shown(admin_client):
    SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1))
    SeniorDetectionFactory(detected_at=timezone.now() - timedelta(minutes=1))  # arrived after the page

    response = admin_client.post(reverse("admin:digests_digest_send"), {"shown": "1"}, follow=True)

    assert "The page showed 1 detections; 2 went" in response.content.decode()


def test_the_audience_page_never_sends_the_teams_webhook_back_and_an_empty_field_keeps_it(admin_client):
    from tests.factories import AudienceFactory

    url = "https://example.webhook.office.com/workflows/board?sig=SECRET"
    audience = AudienceFactory(name="Board", teams_webhook_url=url)
    page = admin_client.get(reverse("admin:digests_audience_change", args=[audience.pk])).content.decode()

    admin_client.post(
        reverse("admin:digests_audience_change", args=[audience.pk]),
        {
            "name": "Board",
            "is_active": "on",
            "cadence": "weekly",
            "alerts_per_hour": "6",
            "starts_at_0": "2000-01-01",
            "starts_at_1": "00:00:00",
            "email_to": "board@example.com",
            "teams_webhook_url": "",
        },
    )

    assert "SECRET" not in page and "the Teams workflow at example.webhook.office.com" in page
    audience.refresh_from_db()
    assert audience.teams_webhook_url == url and audience.email_to == ["board@example.com"]


def test_the_audience_form_names_the_companies_limit(admin_client, settings):
    settings.AUDIENCE_COMPANIES_MAX = 2
    form = {
        "name": "Key accounts",
        "is_active": "on",
        "companies": ["Acme", "Initech", "Globex"],  # a multiple select posts one value per entry
        "cadence": "weekly",
        "alerts_per_hour": "6",
        "email_to": "sales@example.com",
        "starts_at_0": "2026-12-01",
        "starts_at_1": "09:00:00",
    }

    response = admin_client.post(reverse("admin:digests_audience_add"), form)

    assert response.status_code == 200  # the form again, with the error
    assert (
        "At most 2 companies or domains per audience (AUDIENCE_COMPANIES_MAX); this has 3." in response.content.decode()
    )
    assert not Audience.objects.filter(name="Key accounts").exists()


def test_the_audience_form_ticks_functions_and_the_preview_shows_the_filter_and_each_rows_function(admin_client):
    SeniorDetectionFactory(username="Fay Lin", title="CFO", level="csuite", function="finance")
    SeniorDetectionFactory(username="Sal Diaz", title="VP of Sales", function="sales")
    form = {
        "name": "CFO office",
        "is_active": "on",
        "functions": ["finance", "legal"],
        "cadence": "weekly",
        "alerts_per_hour": "6",
        "email_to": "cfo-office@example.com",
        "starts_at_0": "2000-01-01",
        "starts_at_1": "00:00:00",
    }

    added = admin_client.post(reverse("admin:digests_audience_add"), form)
    audience = Audience.objects.get(name="CFO office")
    page = admin_client.get(reverse("admin:digests_audience_change", args=[audience.pk])).content.decode()
    listed = admin_client.get(reverse("admin:digests_audience_changelist")).content.decode()
    preview = admin_client.get(reverse("admin:digests_audience_preview", args=[audience.pk])).content.decode()

    assert added.status_code == 302 and audience.functions == ["finance", "legal"]
    assert 'type="checkbox" name="functions" value="finance"' in page and "Engineering and technology" in page
    assert "Finance/Legal" in listed
    assert "matches 1 current senior member" in preview
    assert '<th scope="row">Functions</th><td>Finance, Legal</td>' in preview
    assert '<th scope="row">Levels</th><td>every level</td>' in preview
    assert '<th scope="col">Function</th>' in preview and "<td>Finance</td>" in preview
    assert "Fay Lin" in preview and "Sal Diaz" not in preview


def test_an_unknown_function_is_a_form_error(admin_client):
    form = {
        "name": "Odd",
        "functions": ["treasury"],
        "cadence": "weekly",
        "alerts_per_hour": "6",
        "email_to": "odd@example.com",
        "starts_at_0": "2000-01-01",
        "starts_at_1": "00:00:00",
    }

    response = admin_client.post(reverse("admin:digests_audience_add"), form)

    assert response.status_code == 200 and "Select a valid choice. treasury is not one" in response.content.decode()
    assert not Audience.objects.filter(name="Odd").exists()


def test_the_lists_clamp_long_text_and_keep_it_on_hover(admin_client, digest):
    name = "EMEA and APAC leadership, sales and marketing executives (weekly)"
    Audience.objects.create(name=name, email_to=["emea@example.com"], starts_at=timezone.now())

    audiences = admin_client.get(reverse("admin:digests_audience_changelist")).content.decode()
    digests = admin_client.get(reverse("admin:digests_digest_changelist")).content.decode()

    assert f'<span class="cp-clamp" title="{name}">{name}</span>' in audiences
    assert "By active" in audiences and "By is active" not in audiences
    assert '<span class="cp-clamp" title="Everyone">Everyone</span>' in digests and "Weekly, " in digests


def test_remove_the_teams_webhook_is_offered_only_when_there_is_one(admin_client):
    without = Audience.objects.create(name="Mail only", email_to=["a@example.com"], starts_at=timezone.now())
    webhook = "https://example.webhook.office.com/workflows/1/invoke?sig=SECRET"
    with_one = Audience.objects.create(name="Teams too", teams_webhook_url=webhook, starts_at=timezone.now())

    pages = [
        admin_client.get(reverse("admin:digests_audience_change", args=[audience.pk])).content.decode()
        for audience in (without, with_one)
    ]
    added = admin_client.get(reverse("admin:digests_audience_add")).content.decode()

    assert "Remove the Teams webhook" not in pages[0] and "Remove the Teams webhook" not in added
    assert "Remove the Teams webhook" in pages[1]


def test_countries_and_companies_are_searchable_selects_on_the_admins_select2(admin_client):
    page = admin_client.get(reverse("admin:digests_audience_add")).content.decode()

    assert '<select name="countries" class="cp-searchable"' in page
    assert '<select name="companies" class="cp-searchable"' in page and 'data-tags="true"' in page
    assert f'data-suggest-url="{reverse("admin:digests_audience_companies")}"' in page
    for static in ["admin/js/vendor/select2/select2.full.js", "admin/css/autocomplete.css", "digests/searchable.js"]:
        assert static in page


def test_companies_already_chosen_stay_chosen_on_the_page(admin_client):
    audience = Audience.objects.create(name="Key", companies=["Acme", "globex.com"], email_to=["a@example.com"])

    page = admin_client.get(reverse("admin:digests_audience_change", args=[audience.pk])).content.decode()

    assert '<option value="Acme" selected>Acme</option>' in page
    assert '<option value="globex.com" selected>globex.com</option>' in page


def test_company_suggestions_are_senior_members_companies_and_domains(admin_client):
    SeniorMemberFactory(company="Acme Corp", email_domain="acme.com")
    SeniorMemberFactory(company="Acme Corp", email_domain="")
    SeniorMemberFactory(company="Globex", email_domain="globex.com")

    reply = admin_client.get(reverse("admin:digests_audience_companies"), {"term": "ACM"}).json()

    assert reply == {
        "results": [{"id": "Acme Corp", "text": "Acme Corp"}, {"id": "acme.com", "text": "acme.com"}],
        "pagination": {"more": False},
    }


def test_company_suggestions_are_for_those_who_may_edit_audiences(client, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw-For-Tests-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_audience"))
    client.force_login(viewer)

    assert client.get(reverse("admin:digests_audience_companies"), {"term": "a"}).status_code == 403


def test_a_company_entry_longer_than_the_column_is_refused_by_name(admin_client):
    form = {"name": "Long", "companies": ["x" * 256], "cadence": "weekly", "alerts_per_hour": "6"}

    page = admin_client.post(reverse("admin:digests_audience_add"), form).content.decode()

    assert "Each entry has at most 255 characters; this one has 256" in page
    assert not Audience.objects.filter(name="Long").exists()


def test_the_send_page_names_who_would_be_left_out_and_why(admin_client):
    from tests.factories import DetectionFactory

    SeniorDetectionFactory(username="Jane Roe", title="CEO", level="csuite")
    gone = DetectionFactory(username="Gone Person", title="VP Finance", level="vp")  # no member row: not senior

    page = admin_client.get(reverse("admin:digests_digest_send")).content.decode()

    assert "1 detection would be left out" in page
    link = reverse("admin:detections_detection_change", args=[gone.pk])
    assert f'<a href="{link}">Gone Person</a> (VP Finance): the member is no longer senior' in page


def test_the_teams_preview_loads_the_renderer_and_keeps_the_json_behind_a_toggle(admin_client, digest):
    teams = DigestDelivery.objects.get(channel="teams")

    page = admin_client.get(reverse("admin:digests_delivery_preview", args=[teams.pk])).content.decode()

    assert "digests/vendor/adaptivecards.min.js" in page and '<div id="teams-card">' in page
    assert '<script id="teams-message" type="application/json">' in page
    assert '<details class="card-json">' in page


def test_the_vendored_renderer_is_the_version_the_tests_render_with():
    """The preview shows the card with the renderer the card's tests use (tests/js/package.json)."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pinned = json.loads((root / "tests" / "js" / "package.json").read_text())["dependencies"]["adaptivecards"]
    vendored = (root / "digests" / "static" / "digests" / "vendor" / "adaptivecards.min.js").read_text()

    assert vendored.startswith(f"/*! adaptivecards {pinned} (npm)")
    assert "//# sourceMappingURL=" not in vendored  # collectstatic's manifest would look for the map


def test_a_digest_links_to_the_detections_it_carried_and_no_others(admin_client, digest):
    carried = digest.receipts.get().detection
    later = SeniorDetectionFactory(detected_at=timezone.now())  # built after: in no digest yet

    listed = admin_client.get(reverse("admin:digests_digest_changelist")).content.decode()
    page = admin_client.get(reverse("admin:digests_digest_change", args=[digest.pk])).content.decode()
    url = f"{reverse('admin:detections_detection_changelist')}?receipts__digest__id__exact={digest.pk}"
    assert f'<a href="{url.replace("&", "&amp;")}">1</a>' in listed
    assert f'<a href="{url}">1 detection, listed</a>' in page

    detections = admin_client.get(url)
    assert detections.status_code == 200  # the lookup is allowed, not a redirect to ?e=1
    digest_page = reverse("admin:digests_digest_change", args=[digest.pk])
    assert f'<h2>Those carried by <a href="{digest_page}">digest #{digest.pk}</a></h2>' in detections.content.decode()
    assert [d.pk for d in detections.context["cl"].result_list] == [carried.pk]
    assert later.pk != carried.pk
