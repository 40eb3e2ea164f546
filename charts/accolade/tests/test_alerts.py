"""The alert rules: promtool loads them, their unit tests pass, and each is complete."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

CHART = Path(__file__).resolve().parents[1]
ROOT = CHART.parents[1]
RULES = CHART / "files/alerts.yaml"
TESTS = CHART / "tests/alerts.test.yaml"
SEVERITIES = {"critical", "warning"}
# Labels that would make a series per agent, user or event (STYLE.md, metrics).
FORBIDDEN_LABELS = {"agent", "agent_id", "user", "user_id", "event", "event_id", "tenant_id"}


@pytest.fixture(scope="session")
def promtool(prometheus_tools: dict[str, str]) -> str:
    """promtool's path."""
    return prometheus_tools["promtool"]


def _alerts() -> list[dict[str, Any]]:
    rules = yaml.safe_load(RULES.read_text())
    return [r for g in rules["groups"] for r in g["rules"] if "alert" in r]


def _promtool(promtool: str, *args: str) -> str:
    result = subprocess.run(
        [promtool, *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def test_promtool_checks_the_rules_file(promtool: str) -> None:
    output = _promtool(promtool, "check", "rules", str(RULES.relative_to(ROOT)))
    assert f"SUCCESS: {len(_alerts())} rules found" in output, output


def test_promtool_unit_tests_pass(promtool: str) -> None:
    output = _promtool(promtool, "test", "rules", str(TESTS.relative_to(ROOT)))
    assert "SUCCESS" in output, output


@pytest.mark.parametrize("alert", _alerts(), ids=lambda a: a["alert"])
def test_every_alert_says_how_bad_it_is_and_where_its_runbook_is(alert: dict[str, Any]) -> None:
    name = alert["alert"]
    assert name.startswith("Accolade"), name
    assert "for" in alert, f"{name} has no for: duration"
    assert alert["labels"]["severity"] in SEVERITIES
    annotations = alert["annotations"]
    assert annotations["summary"].strip()
    assert annotations["description"].strip()
    assert annotations["runbook_url"] == f"docs/deploy.md#{name.lower()}"
    grouped = {
        label.strip()
        for labels in re.findall(
            r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", alert["expr"]
        )
        for label in labels.split(",")
    }
    assert not grouped & FORBIDDEN_LABELS, f"{name} groups by {grouped & FORBIDDEN_LABELS}"


def test_every_alert_is_tested_firing_and_quiet() -> None:
    cases = yaml.safe_load(TESTS.read_text())
    assert cases["rule_files"] == ["../files/alerts.yaml"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for test in cases["tests"]:
        for case in test.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {a["alert"] for a in _alerts()}
    assert names - fires == set(), "never shown firing"
    assert names - quiet == set(), "never shown quiet"
