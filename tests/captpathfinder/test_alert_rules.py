"""deploy/prometheus/alerts.yml: well-formed, covering the original's alert list, on metrics that exist."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_every_rule_is_complete():
    for rule in rules():
        assert {"alert", "expr", "for", "labels", "annotations"} <= set(rule), rule.get("alert")
        assert rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["summary"]


def test_the_original_alert_list_is_covered():
    exprs = {rule["alert"]: (rule["expr"], rule["for"]) for rule in rules()}

    assert "> 0.05" in exprs["CaptPathfinderHighErrorRate"][0] and exprs["CaptPathfinderHighErrorRate"][1] == "5m"
    assert "captpathfinder_database_up == 0" in exprs["CaptPathfinderDatabaseUnreachable"][0]
    assert "14 * 86400" in exprs["CaptPathfinderNoDigestSentInTwoWeeks"][0]
    assert "> 2" in exprs["CaptPathfinderSlowResponses"][0] and exprs["CaptPathfinderSlowResponses"][1] == "10m"
    assert "> 50" in exprs["CaptPathfinderManyPendingDeliveries"][0]
    assert "> 0.5" in exprs["CaptPathfinderSlowClassification"][0]


def family(sample_name: str) -> str:
    """The metric family a sample belongs to: counters add _total, histograms _bucket."""
    return re.sub(r"_(total|bucket|sum|count)$", "", sample_name)


@pytest.mark.django_db
def test_every_metric_the_rules_use_is_exported(admin_client):
    exported = admin_client.get("/metrics").content.decode()
    names = set()
    for rule in rules():
        names |= set(re.findall(r"\b((?:captpathfinder|django)_[a-z0-9_]+)", rule["expr"]))

    # The TYPE line names the family, or (for counters, in this client version) family + _total.
    missing = {name for name in names if not re.search(rf"^# TYPE ({family(name)}|{name}) ", exported, re.M)}
    assert names and not missing


def test_the_expressions_are_well_formed_and_promtool_accepts_them_where_installed():
    for rule in rules():
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), rule["alert"]
        assert expr.count('"') % 2 == 0, rule["alert"]
    if shutil.which("promtool"):  # Debian's prometheus package; present on the machines we run here
        result = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
