"""Confirmed labels: a candidate ruleset that breaks one is refused unless the operator accepts it."""

import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from access.models import AuditEntry
from classification import services
from classification.engine import Ruleset
from classification.impact import LabelsBroken
from classification.models import ConfirmedLabel, StoredRuleset

pytestmark = pytest.mark.django_db

# Knows only the CEO: gets "VP of Sales" (and most of the shipped set) wrong.
CEO_ONLY = (
    'version: "ceo-only"\nroles:\n  - id: csuite.ceo\n    level: csuite\n    function: general\n    pattern: ceo\n'
)


@pytest.fixture(autouse=True)
def _back_to_the_shipped_rules(settings):
    settings.CLASSIFICATION_RELOAD_SECONDS = 0
    yield
    StoredRuleset.objects.update(is_active=False)
    services.ruleset_reload(force=True)


@pytest.fixture
def labels():
    return [
        ConfirmedLabel.objects.create(title="VP of Sales", level="vp", note="a customer's VP"),
        ConfirmedLabel.objects.create(title="CEO", level="csuite"),
        ConfirmedLabel.objects.create(title="Head of Growth", level="none"),
    ]


def test_the_impact_lists_each_labelled_title_whose_level_would_change(labels):
    impact = services.ruleset_impact(Ruleset.from_text(CEO_ONLY), services.ruleset_active())

    assert (impact.confirmed.correct, impact.confirmed.total) == (2, 3)
    assert [(c.title, c.expected, c.after, c.before) for c in impact.broken] == [("VP of Sales", "vp", "none", "vp")]
    assert impact.shipped.total > 500 and impact.shipped.correct < impact.shipped.total
    changed = {c.title for c in impact.changes}
    assert "VP of Sales" in changed and "CEO" not in changed
    assert len(impact.changes) == impact.shipped.total - impact.shipped.correct + 1  # the shipped rules are 100 %


def test_a_ruleset_that_breaks_a_confirmed_label_is_refused_unless_each_is_accepted(labels):
    stored = services.ruleset_store(content=CEO_ONLY, change_note="only the CEO")

    with pytest.raises(LabelsBroken, match=r"1 confirmed label wrong: 'VP of Sales' \(vp, would be none\)"):
        services.ruleset_activate(stored=stored, via="admin")
    assert not StoredRuleset.objects.get(pk=stored.pk).is_active

    services.ruleset_activate(stored=stored, accepted={labels[0].pk}, via="admin")

    assert StoredRuleset.objects.get(pk=stored.pk).is_active


def test_storing_and_activating_at_once_is_refused_too(labels):
    with pytest.raises(LabelsBroken):
        services.ruleset_store(content=CEO_ONLY, change_note="only the CEO", activate=True)

    assert not StoredRuleset.objects.exists()  # nothing half-saved


def test_the_activation_page_shows_the_changes_and_asks_about_each_broken_label(admin_client, labels):
    stored = services.ruleset_store(content=CEO_ONLY, change_note="only the CEO")
    url = reverse("admin:classification_activate", args=[stored.pk])

    page = admin_client.get(url).content.decode()
    refused = admin_client.post(url, {}, follow=True).content.decode()
    accepted = admin_client.post(url, {"accept": [str(labels[0].pk)]}, follow=True).content.decode()

    assert "Confirmed labels: 2 of 3 right, <strong>1 wrong</strong>" in page
    assert f'name="accept" value="{labels[0].pk}"' in page and "VP of Sales" in page
    assert "Every labelled title whose level would change" in page
    assert "was not activated: it gets 1 confirmed label wrong" in refused
    assert "Ruleset ceo-only is active." in accepted
    entry = AuditEntry.objects.get(action="ruleset.activate")
    assert entry.details["accepted_broken_labels"] == [labels[0].pk]


def test_the_add_form_refuses_to_activate_a_ruleset_that_breaks_a_label(admin_client, labels):
    response = admin_client.post(
        reverse("admin:classification_storedruleset_add"),
        {"content": CEO_ONLY, "change_note": "only the CEO", "activate": "on"},
    )

    assert response.status_code == 200 and "1 confirmed label wrong" in response.content.decode()
    assert not StoredRuleset.objects.exists()


def test_confirmed_labels_export_as_tsv_that_evaluate_reads(admin_client, labels, tmp_path):
    ConfirmedLabel.objects.create(title="VP\tof\nMarketing", level="vp", function="marketing")

    response = admin_client.get(reverse("admin:classification_confirmedlabel_export"))

    assert response["Content-Type"].startswith("text/tab-separated-values")
    lines = response.content.decode().splitlines()
    assert lines[1:] == ["!vp\tVP of Sales\t-", "!csuite\tCEO\t-", "!none\tHead of Growth\t-",
                         "!vp\tVP of Marketing\tmarketing"]  # fmt: skip
    path = tmp_path / "labels.tsv"
    path.write_bytes(response.content)
    out = _classify("--evaluate", str(path))
    assert "accuracy 100.00% (4/4)" in out
    assert re.search(r"by function:\n +marketing +100\.00% \(1/1\)", out)


def test_a_confirmed_label_that_is_not_senior_takes_no_function():
    from django.core.exceptions import ValidationError

    label = ConfirmedLabel(title="Head of Sales", level="none", function="sales")

    with pytest.raises(ValidationError, match="has no function"):
        label.full_clean()


def test_classify_evaluate_prints_accuracy_on_both_sets(labels):
    out = _classify("--evaluate")

    assert "shipped labelled set: accuracy 100.00%" in out
    assert "confirmed labels: accuracy 100.00% (3/3)" in out


def _classify(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("classify", *args, stdout=out)
    return out.getvalue()
