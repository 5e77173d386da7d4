"""docker-compose.yml cannot run here (no Docker engine), so its shape is checked instead."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_services_with_healthchecks():
    services = compose()["services"]

    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name


def test_compose_runs_exactly_one_beat_with_the_database_scheduler():
    services = compose()["services"]
    beats = [name for name, service in services.items() if "beat" in service.get("command", [])]

    assert beats == ["beat"]
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "django_celery_beat.schedulers:DatabaseScheduler" in services["beat"]["command"]


def test_compose_app_services_share_the_environment_and_production_settings():
    services = compose()["services"]
    envs = [services[name]["environment"] for name in ("web", "worker", "beat", "migrate")]

    assert all(env == envs[0] for env in envs)
    assert envs[0]["DJANGO_SETTINGS_MODULE"] == "captpathfinder.settings.production"
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "SECRET_KEY", "WEBHOOK_BASIC_AUTH_PASSWORD"):
        assert name in envs[0]


def test_every_setting_read_from_the_environment_is_documented_in_env_example():
    import re

    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    read = set()
    for path in (ROOT / "captpathfinder" / "settings").glob("*.py"):
        read |= set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', path.read_text()))

    assert read - documented == set()
