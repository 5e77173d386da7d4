"""Production refuses to start with unsafe settings; development starts with none."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "DJANGO_SETTINGS_MODULE": "captpathfinder.settings.production",
    "SECRET_KEY": "k3J9!xQ2#vB7@mN5$pL8^wR4&tY6*uI1(oP0)aS3-dF5+gH7=jK9",
    "ALLOWED_HOSTS": "captpathfinder.example.com",
    "WEBHOOK_BASIC_AUTH_USERNAME": "insided",
    "WEBHOOK_BASIC_AUTH_PASSWORD": "Xq7-long-Random-password",
    "DEBUG": "false",
    "DIGEST_EMAIL_TO": "exec-team@example.com",
    "DIGEST_TEAMS_WEBHOOK_URL": "https://example.webhook.office.com/workflows/abc",
}

COMMUNITY = {
    "COMMUNITY_API_URL": "https://api2-us-west-2.insided.com",
    "COMMUNITY_CLIENT_ID": "client",
    "COMMUNITY_CLIENT_SECRET": "secret",
}

SALESFORCE = {
    "CRM_HANDOFF_ENABLED": "true",
    "SALESFORCE_LOGIN_URL": "https://acme.my.salesforce.com",
    "SALESFORCE_CLIENT_ID": "3MVG9client",
    "SALESFORCE_CLIENT_SECRET": "secret",
}


def run_manage(env_overrides: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in GOOD and k != "DJANGO_SETTINGS_MODULE"}
    env.update({k: v for k, v in env_overrides.items() if v is not None})
    return subprocess.run(
        [sys.executable, "manage.py", *(args or ("check",))], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_production_with_safe_settings_passes_the_deploy_check():
    result = run_manage(GOOD, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be a long random value"),
        ({"SECRET_KEY": "django-insecure-" + "x" * 60}, "SECRET_KEY must be a long random value"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS"),
        ({"WEBHOOK_BASIC_AUTH_USERNAME": None, "WEBHOOK_BASIC_AUTH_PASSWORD": None}, "No webhook authentication"),
        ({"WEBHOOK_SIGNING_SECRET": "not-base64-!"}, "WEBHOOK_SIGNING_SECRET"),
        ({"DIGEST_EMAIL_TO": ""}, "DIGEST_EMAIL_TO is empty but the email digest is enabled"),
        ({"DIGEST_EMAIL_TO": " , "}, "DIGEST_EMAIL_TO is empty but the email digest is enabled"),
        ({"DIGEST_TEAMS_WEBHOOK_URL": ""}, "leave teams out of DIGEST_CHANNELS"),
        ({"DIGEST_CHANNELS": "email,sms"}, "unknown channel 'sms'"),
        ({"WEBHOOK_BASIC_AUTH_PASSWORD": "a"}, "WEBHOOK_BASIC_AUTH_PASSWORD is weak"),
        ({"WEBHOOK_BASIC_AUTH_PASSWORD": "alllowercaseletters-only"}, "WEBHOOK_BASIC_AUTH_PASSWORD is weak"),
        ({"COMMUNITY_WRITEBACK_ROLE": "roles.Executives", "COMMUNITY_API_URL": ""}, "need COMMUNITY_API_URL"),
        ({**COMMUNITY, "COMMUNITY_WRITEBACK_BADGE_ID": "Executive"}, "'Executive' is not a badge id"),
        ({**COMMUNITY, "COMMUNITY_WRITEBACK_ROLE": "r", "COMMUNITY_WRITEBACK_LEVELS": "ceo"}, "vp, csuite or both"),
        ({"CRM_HANDOFF_ENABLED": "true"}, "CRM_HANDOFF_ENABLED needs SALESFORCE_LOGIN_URL"),
        ({**SALESFORCE, "SALESFORCE_LOGIN_URL": ""}, "CRM_HANDOFF_ENABLED needs SALESFORCE_LOGIN_URL"),
        ({**SALESFORCE, "SALESFORCE_LOGIN_URL": "http://acme.my.salesforce.com"}, "is not an https URL"),
        ({**SALESFORCE, "CRM_HANDOFF_LEVELS": "ceo"}, "CRM_HANDOFF_LEVELS must be vp, csuite or both"),
        ({**SALESFORCE, "CRM_HANDOFF_KINDS": "hired"}, "CRM_HANDOFF_KINDS must be first, promotion or both"),
        ({**SALESFORCE, "CRM_SLOW_DOWN_AT_SHARE": "80"}, "CRM_SLOW_DOWN_AT_SHARE is a share"),
        ({**SALESFORCE, "CRM_TASK_KEY_FIELD": "Key; DELETE"}, "is not a custom field's API name"),
    ],
    ids=[
        "debug-on",
        "no-secret-key",
        "short-secret-key",
        "insecure-secret-key",
        "no-hosts",
        "open-webhook",
        "bad-whsec",
        "email-without-recipients",
        "email-recipients-blank",
        "teams-without-webhook",
        "unknown-channel",
        "one-letter-webhook-password",
        "one-class-webhook-password",
        "writeback-without-community",
        "writeback-badge-not-an-id",
        "writeback-unknown-level",
        "crm-without-credentials",
        "crm-without-instance",
        "crm-plain-http",
        "crm-unknown-level",
        "crm-unknown-kind",
        "crm-share-not-a-share",
        "crm-key-field-not-a-field",
    ],
)
def test_production_refuses_to_start_with_unsafe_settings(overrides, message):
    result = run_manage({**GOOD, **overrides})

    assert result.returncode != 0
    assert message in result.stderr


def test_production_starts_with_the_crm_handoff_set_up():
    result = run_manage({**GOOD, **SALESFORCE, "CRM_HANDOFF_LEVELS": "vp,csuite"})

    assert result.returncode == 0, result.stderr


def test_production_starts_with_a_channel_without_recipients_left_out():
    result = run_manage({**GOOD, "DIGEST_TEAMS_WEBHOOK_URL": "", "DIGEST_CHANNELS": "email"})

    assert result.returncode == 0, result.stderr


def test_development_starts_with_nothing_configured(tmp_path):
    env = {"DJANGO_SETTINGS_MODULE": "captpathfinder.settings.local", "CAPTPATHFINDER_VAR_DIR": str(tmp_path)}
    env.update({k: "" for k in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")})

    result = run_manage(env, "check")

    assert result.returncode == 0, result.stderr


def _proxy_header(env: dict) -> str:
    code = "from django.conf import settings; print(getattr(settings, 'SECURE_PROXY_SSL_HEADER', None))"
    return run_manage(env, "shell", "--no-imports", "-c", code).stdout.strip()


def test_the_forwarded_proto_header_is_trusted_only_behind_a_configured_proxy():
    assert _proxy_header(GOOD) == "None"
    assert _proxy_header({**GOOD, "NUM_PROXIES": "1"}) == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_a_long_random_hex_webhook_password_is_accepted():
    result = run_manage({**GOOD, "WEBHOOK_BASIC_AUTH_PASSWORD": "0123456789abcdef" * 4})

    assert result.returncode == 0, result.stderr
