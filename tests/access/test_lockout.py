"""The admin login locks out after repeated failures; an operator unlocks it, and that is recorded."""

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from access.models import AuditEntry

pytestmark = pytest.mark.django_db

RIGHT = "a-Right-Password-9"


def login(client, username, password):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_five_wrong_passwords_lock_the_account_from_that_address_even_with_the_right_one(django_user_model):
    django_user_model.objects.create_user("ops", password=RIGHT, is_staff=True)
    client = Client(REMOTE_ADDR="203.0.113.7")

    codes = [login(client, "ops", f"wrong-{i}").status_code for i in range(5)]
    locked = login(client, "ops", RIGHT)

    assert codes == [200] * 4 + [429]  # the form again with Django's error, then the lockout
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    assert "locked\n  for 15 minutes" in locked.content.decode()
    from_elsewhere = login(Client(REMOTE_ADDR="198.51.100.2"), "ops", RIGHT)
    assert from_elsewhere.status_code == 302  # a stranger's failures cannot lock the operator out


def test_an_address_guessing_many_accounts_is_locked(django_user_model):
    client = Client(REMOTE_ADDR="203.0.113.8")

    codes = [login(client, f"user{i}", "guess").status_code for i in range(6)]

    assert codes[-1] == 429


def test_an_operator_unlocks_and_it_is_recorded(django_user_model, admin_client):
    django_user_model.objects.create_user("ops", password=RIGHT, is_staff=True)
    client = Client(REMOTE_ADDR="203.0.113.9")
    for i in range(5):
        login(client, "ops", f"wrong-{i}")
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))

    admin_client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )

    assert login(client, "ops", RIGHT).status_code == 302
    assert AuditEntry.objects.filter(action="login.unlock", username="admin").exists()
