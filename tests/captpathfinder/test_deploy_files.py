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


APP_SERVICES = ("web", "worker", "beat", "migrate")
# Set by compose itself (its topology), over what .env says.
TOPOLOGY = {
    "DJANGO_SETTINGS_MODULE",
    "LOG_FORMAT",
    "PROMETHEUS_MULTIPROC_DIR",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DEBUG",
    "DATABASE_URL",
    "DATABASE_TRANSACTION_POOLING",
    "DATABASE_SESSION_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "NUM_PROXIES",
}


def test_the_worker_has_the_grace_to_finish_its_tasks_when_stopped(monkeypatch):
    from django.conf import settings

    monkeypatch.syspath_prepend(str(ROOT / "scripts"))  # run.py imports pgserver as a script does
    from scripts import run

    grace = compose()["services"]["worker"]["stop_grace_period"]

    assert grace == f"{run.STOP_GRACE_SECONDS}s"  # as make run gives it
    assert run.STOP_GRACE_SECONDS > settings.CELERY_TASK_TIME_LIMIT


def env_example_names() -> set[str]:
    import re

    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))


def test_every_variable_in_env_example_reaches_the_app_containers():
    """The issue found 55 of 87 documented settings silently dropped: each app container now reads
    the whole .env, and compose overrides only its own topology."""
    services = compose()["services"]
    for name in APP_SERVICES:
        service = services[name]
        assert [entry["path"] for entry in service["env_file"]] == [".env"], name
        assert set(service["environment"]) == TOPOLOGY, name
    assert services["web"]["environment"]["DJANGO_SETTINGS_MODULE"] == "captpathfinder.settings.production"
    # Compose's own variables are documented too, and everything else passes through untouched.
    assert {"POSTGRES_PASSWORD", "WEB_BIND"} <= env_example_names()
    assert len(env_example_names() - TOPOLOGY) > 80


def test_compose_publishes_haproxy_on_loopback_for_a_tls_proxy_and_not_the_web():
    services = compose()["services"]

    assert services["proxy"]["ports"] == ["${WEB_BIND:-127.0.0.1}:8000:8080"]
    assert "ports" not in services["web"]
    assert services["proxy"]["environment"]["WEB_SERVICE"] == "web:8000"
    assert services["web"]["environment"]["NUM_PROXIES"] == "2"  # the host's TLS proxy, then HAProxy


def test_the_haproxy_configuration_loads_and_its_errors_are_json(tmp_path):
    """Checked by Debian's haproxy (make test installs it), with the addresses compose gives it."""
    import json
    import shutil
    import subprocess

    folder = ROOT / "deploy" / "haproxy"
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    # The web as compose names it (every replica, from Docker's DNS), and as make faults gives it.
    for web in (
        {"WEB_SERVICE": compose()["services"]["proxy"]["environment"]["WEB_SERVICE"]},
        {"WEB_ADDRESS": "127.0.0.1:9"},
    ):
        env = {"PROXY_BIND": ":8080", "HAPROXY_ERRORS": str(folder / "errors"), **web}

        checked = subprocess.run(
            [haproxy, "-c", "-f", str(folder / "haproxy.cfg")], env=env, capture_output=True, text=True
        )

        assert checked.returncode == 0, (web, checked.stdout + checked.stderr)
    for reply in sorted((folder / "errors").glob("*.json")):
        head, _, body = reply.read_bytes().partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {reply.stem} ".encode()), reply.name
        assert f"Content-Length: {len(body)}".encode() in head, reply.name
        assert set(json.loads(body)) == {"error", "detail"}, reply.name


def test_the_image_has_a_healthcheck():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "\nHEALTHCHECK " in dockerfile


def test_every_setting_read_from_the_environment_is_documented_in_env_example():
    import re

    documented = env_example_names()
    read = set()
    for path in (ROOT / "captpathfinder" / "settings").glob("*.py"):
        read |= set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', path.read_text()))

    assert read - documented == set()


SCALED = ("web", "worker")


def test_the_scaled_services_have_no_container_name_or_host_port():
    """`docker compose up --scale web=2 --scale worker=4`: a fixed name or host port would collide."""
    services = compose()["services"]

    for name in SCALED:
        assert "container_name" not in services[name], name
        assert "ports" not in services[name], name
        assert "replicas" not in services[name].get("deploy", {}), name
    assert not [name for name, service in services.items() if "container_name" in service]


def test_haproxy_balances_over_every_web_replica_found_in_dockers_dns():
    import re

    config = (ROOT / "deploy" / "haproxy" / "haproxy.cfg").read_text()
    services = compose()["services"]
    resolvers = re.search(r"^resolvers docker\n((?:    .*\n)+)", config, re.M)
    template = re.search(r'^\s*server-template web (\d+)-(\d+) "\$\{WEB_SERVICE\}" (.*)$', config, re.M)

    assert resolvers and "    nameserver docker 127.0.0.11:53\n" in resolvers.group(1)  # Docker's embedded DNS
    assert template, "no server-template for the web"
    assert int(template.group(2)) - int(template.group(1)) + 1 >= 4  # room for --scale web=4
    assert {"resolvers", "docker", "init-addr", "none", "maxconn", "32", "check"} <= set(template.group(3).split())
    assert services["proxy"]["environment"]["WEB_SERVICE"] == "web:8000"  # the service's name, not one container
    assert services["web"]["expose"] == ["8000"]


def database_host(url: str) -> str:
    """The host of a compose DATABASE_URL (its password is an interpolation such as ${X:?message})."""
    return url.rpartition("@")[2].partition(":")[0]


def test_the_app_reaches_postgresql_through_pgbouncer_in_transaction_mode():
    services = compose()["services"]
    pgbouncer = services["pgbouncer"]

    assert pgbouncer["environment"]["POOL_MODE"] == "transaction"
    assert pgbouncer["environment"]["DB_HOST"] == "postgres"
    assert ":" in pgbouncer["image"] and not pgbouncer["image"].endswith(":latest")  # pinned
    assert "ports" not in pgbouncer
    for name in ("web", "worker", "beat"):
        environment = services[name]["environment"]
        assert database_host(environment["DATABASE_URL"]) == "pgbouncer", name
        assert environment["DATABASE_TRANSACTION_POOLING"] == "true", name
        # The writer lock's session connection must not go through the transaction pool.
        assert database_host(environment["DATABASE_SESSION_URL"]) == "postgres", name
        assert services[name]["depends_on"]["pgbouncer"]["condition"] == "service_healthy", name
    # Migrations run straight against PostgreSQL, before any of them starts.
    assert database_host(services["migrate"]["environment"]["DATABASE_URL"]) == "postgres"
