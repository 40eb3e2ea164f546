"""A real Prometheus scrapes the platform: the dashboard's queries and the alert rules work."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from accolade import catalog
from accolade.local.embedded import EmbeddedBroker, free_port
from accolade.v1 import (
    achievements_service_pb2,
    challenges_service_pb2,
    feedback_service_pb2,
    gateway_service_pb2,
    leaderboards_service_pb2,
)
from tests.platform import Platform, counter, eventually, interaction

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[1]
ALERTS = ROOT / "charts/accolade/files/alerts.yaml"
DASHBOARD = ROOT / "charts/accolade/files/dashboard.json"
ACCEPTED = gateway_service_pb2.EVENT_STATUS_ACCEPTED
JOB = "accolade"
ACTIVITY_CONSUMERS = ("achievements", "challenges", "leaderboards")
# What Grafana puts in place of its variables when it runs a panel's query.
RATE_INTERVAL = "1m"

# A vector selector: an optional metric name, then its label matchers.
_SELECTOR = re.compile(
    r"(?:\b(?!(?:and|or|unless|by|without|on|ignoring|offset|bool)\b)"
    r"(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)\s*)?\{(?P<matchers>[^{}]*)\}"
)
_MATCHER = re.compile(
    r'(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>[^"]*)"'
)
# A Grafana variable left in a query after substitution ($1 is label_replace's, not one).
_VARIABLE = re.compile(r"\$(?!\d)\{?[A-Za-z_]\w*")


@pytest.fixture(scope="session")
def prometheus_binary(prometheus_tools: dict[str, str]) -> str:
    """The Prometheus server's path."""
    return prometheus_tools["prometheus"]


class PrometheusServer:
    """A Prometheus of the test's own, scraping every service and loading the alert rules."""

    def __init__(self, binary: str, platform: Platform, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(ALERTS)],
            "scrape_configs": [
                {
                    "job_name": JOB,
                    # The Prometheus Operator's `service` target label holds the Kubernetes
                    # Service's name: queries must not mistake it for the metric's service.
                    "static_configs": [
                        {
                            "targets": [f"127.0.0.1:{e.metrics_port}"],
                            "labels": {"service": f"accolade-{name}"},
                        }
                        for name, e in platform.endpoints.items()
                    ],
                }
            ],
        }
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "prometheus.yml").write_text(json.dumps(config, indent=2))  # JSON is YAML
        with open(workdir / "prometheus.log", "wb") as log:
            self._process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={workdir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.log = workdir / "prometheus.log"

    def wait_ready(self, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as reply:  # noqa: S310
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"prometheus not ready in {within} s:\n{self.log.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def api(self, path: str, **params: str) -> Any:
        """The `data` of a /api/v1 answer; a query Prometheus rejects raises at once."""
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - http only
                body = json.load(reply)
        except urllib.error.HTTPError as exc:
            with exc:
                raise AssertionError(f"{path} {params}: {exc.code} {exc.read().decode()}") from None
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", (expr, data["resultType"])
        return list(data["result"])


@pytest.fixture
def prometheus(
    prometheus_binary: str, platform_own_broker: Platform, tmp_path: Path
) -> Iterator[PrometheusServer]:
    server = PrometheusServer(prometheus_binary, platform_own_broker, tmp_path / "prometheus")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


async def test_prometheus_runs_every_dashboard_query_and_alert_rule_on_live_data(
    platform_own_broker: Platform,
    private_broker: EmbeddedBroker,
    prometheus: PrometheusServer,
    tenant: str,
) -> None:
    platform = platform_own_broker
    await platform.apply_program(tenant)
    activity = f"{platform.namespace}.activity.v1"

    # A day's work: ana completes the challenge and earns both badges; one bad survey.
    events = [interaction(tenant, "ana") for _ in range(11)]
    events.append(interaction(tenant, "ben", resolved=False))
    assert await platform.publish(events) == [ACCEPTED] * len(events)
    await platform.survey(tenant, "ana", 5)
    await platform.survey(tenant, "ben", 3)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await platform.feedback.SubmitSurvey(
            feedback_service_pb2.SubmitSurveyRequest(
                tenant_id=tenant,
                agent_id="ben",
                survey_id=str(uuid.uuid4()),
                interaction_id="i-1",
                csat=6,
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await eventually(lambda: _is(platform.progress(tenant, "ana"), (11, True)))
    assert await eventually(
        lambda: _has_badges(platform, tenant, "ana", {"first-resolution", "five-stars"})
    )

    # The broker loses its log: the relays publish their retained rows again.
    await asyncio.to_thread(private_broker.restart)
    assert await eventually(lambda: _republished(platform), within=30)
    await platform.wait_serving(platform.endpoints, within=30)

    # An undecodable message goes to every activity consumer's dead-letter topic.
    producer = AIOKafkaProducer(bootstrap_servers=private_broker.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(activity, b"\xff\xfe not protobuf", key=b"x/y")
    finally:
        await producer.stop()
    assert await platform.publish([interaction(tenant, "cleo")]) == [ACCEPTED]
    assert await eventually(lambda: _has_score(platform, tenant, "cleo"), within=30)

    # Reads on every service, so each has fresh latency buckets in the rate window.
    await _read_everything(platform, tenant)

    dashboard = _dashboard_queries()
    rules = _alert_rules()
    # Every alert that fires on its first evaluation (for: 0m) does so now; refusals of
    # bad input (INVALID_ARGUMENT) must not even make the error-ratio alert pending.
    expected = {
        *(("AccoladeMessagesDeadLettered", s, activity) for s in ACTIVITY_CONSUMERS),
        ("AccoladeOutboxRepublishing", "gateway", activity),
    }
    problems = await asyncio.to_thread(
        _poll, lambda: _problems(prometheus, dashboard, rules, expected), 45
    )
    assert not problems, "\n".join(problems)


def _poll(check: Callable[[], list[str]], within: float) -> list[str]:
    """Runs `check` until it finds no problem or `within` seconds pass; the last problems."""
    deadline = time.monotonic() + within
    while True:
        problems = check()
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(1)


def _problems(
    prometheus: PrometheusServer,
    dashboard: list[tuple[str, str]],
    rules: dict[str, str],
    expected_firing: set[tuple[str, str, str]],
) -> list[str]:
    """What Prometheus does not yet show as the dashboard and the alerts expect."""
    problems: list[str] = []
    names = set(catalog.NAMES)

    # Every service's target is scraped.
    targets = prometheus.api("targets", state="active")["activeTargets"]
    health = {t["labels"].get("service"): t["health"] for t in targets}
    for name in names:
        if health.get(f"accolade-{name}") != "up":
            problems.append(f"target of {name}: {health.get(f'accolade-{name}', 'missing')}")
    up = prometheus.query(f'up{{job="{JOB}"}}')
    if sorted(s["value"][1] for s in up) != ["1"] * len(names):
        problems.append(f"up{{job={JOB!r}}}: {up}")

    # The dashboard's service variable lists the five services.
    variable = prometheus.api("label/__name__/values", **{"match[]": _service_variable()})
    listed = {m.group(1) for v in variable if (m := re.fullmatch(r"accolade_(.+)_serving", v))}
    if listed != names:
        problems.append(f"$service variable lists {sorted(listed)}")

    # Every panel's query runs and returns data.
    present = set(prometheus.api("label/__name__/values"))
    for title, expr in dashboard:
        if "$service" in expr or "${service}" in expr:
            answered = []
            for name in sorted(names):
                query = _grafana(expr, name)
                result = prometheus.query(query)
                if result:
                    answered.append(name)
                elif set(re.findall(r"\baccolade_\w+", query)) <= present:
                    problems.append(f"panel {title!r} for {name}: no data from {query}")
            if not answered:
                problems.append(f"panel {title!r}: no data for any service from {expr}")
            continue
        query = _grafana(expr)
        result = prometheus.query(query)
        if not result:
            problems.append(f"panel {title!r}: no data from {query}")
        # The service comes from the metric's name, never from the target's labels.
        for series in result:
            if series["metric"].get("service", "") not in names | {""}:
                problems.append(f"panel {title!r}: service label {series['metric']}")

    # Every alert rule is loaded and evaluates cleanly, and what it selects exists.
    loaded = {
        r["name"]: r for g in prometheus.api("rules", type="alert")["groups"] for r in g["rules"]
    }
    if set(loaded) != set(rules):
        problems.append(f"rules loaded {sorted(loaded)}, file has {sorted(rules)}")
    for name, expr in rules.items():
        rule = loaded.get(name, {})
        if rule.get("health") != "ok" or rule.get("lastError"):
            problems.append(f"rule {name}: health {rule.get('health')} {rule.get('lastError')}")
        prometheus.query(expr)  # parses and evaluates at an instant too
        problems.extend(f"rule {name}: {p}" for p in _selectors_without_data(prometheus, expr))

    # The alerts due now are firing, each naming one of the services.
    alerts = prometheus.api("alerts")["alerts"]
    firing = {
        (a["labels"]["alertname"], a["labels"].get("service"), a["labels"].get("topic"))
        for a in alerts
        if a["state"] == "firing"
    }
    if missing := expected_firing - firing:
        problems.append(f"alerts not firing: {sorted(missing)}")
    for a in alerts:
        labels = a["labels"]
        if labels["alertname"] == "AccoladeRPCErrorsHigh":
            problems.append(f"AccoladeRPCErrorsHigh is {a['state']}: {labels}")
        if labels["alertname"] != "AccoladeTargetDown" and labels.get("service") not in names:
            problems.append(f"alert without a service: {labels}")
        if "<no value>" in json.dumps(a["annotations"]):
            problems.append(f"alert annotations with a missing value: {a['annotations']}")
    return problems


def _selectors_without_data(prometheus: PrometheusServer, expr: str) -> list[str]:
    """The selectors of `expr` that match nothing, or name a label no such series has.

    A selector that also filters on a value that has not happened (code="INTERNAL") may
    match nothing; its metric must still exist, with the labels it filters on.
    """
    problems = []
    text = re.sub(r"#[^\n]*", "", expr)  # comments
    for m in _SELECTOR.finditer(text):
        selector = m.group(0)
        if prometheus.query(selector):
            continue
        matchers = [x.groupdict() for x in _MATCHER.finditer(m.group("matchers"))]
        named = [x for x in matchers if x["label"] == "__name__"]
        base = (
            m.group("name")
            or "{" + ", ".join(f'{x["label"]}{x["op"]}"{x["value"]}"' for x in named) + "}"
        )
        series = prometheus.query(base)
        if not series:
            problems.append(f"no data from {base}")
            continue
        labels = {k for s in series for k in s["metric"]}
        missing = [
            x["label"] for x in matchers if x["label"] != "__name__" and x["label"] not in labels
        ]
        if missing:
            problems.append(f"{selector}: no series of {base} has labels {missing}")
    return problems


def _dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in dashboard["panels"]:
        for nested in [panel, *panel.get("panels", [])]:
            queries.extend((nested["title"], t["expr"]) for t in nested.get("targets", []))
    assert queries, "the dashboard has no queries"
    return queries


def _service_variable() -> str:
    """The selector of the dashboard's `service` variable, from its label_values()."""
    dashboard = json.loads(DASHBOARD.read_text())
    (variable,) = [v for v in dashboard["templating"]["list"] if v["name"] == "service"]
    query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
    m = re.fullmatch(r"label_values\((.+),\s*__name__\)", query)
    assert m, query
    return m.group(1)


def _grafana(expr: str, service: str | None = None) -> str:
    """`expr` with Grafana's variables replaced as Grafana would for one service."""
    out = expr.replace("$__rate_interval", RATE_INTERVAL)
    if service is not None:
        out = out.replace("${service}", service).replace("$service", service)
    assert not _VARIABLE.search(out), f"unknown variable in {expr}"
    return out


def _alert_rules() -> dict[str, str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "alert" in r}


async def _read_everything(platform: Platform, tenant: str) -> None:
    await platform.badges(tenant, "ana")
    await platform.scores(tenant)
    await platform.progress(tenant, "ana")
    await platform.survey(tenant, "cleo", 4)
    await platform.gateway.PublishEvents(
        gateway_service_pb2.PublishEventsRequest(events=[interaction(tenant, "dan")])
    )
    await platform.achievements.ListAgentBadges(
        achievements_service_pb2.ListAgentBadgesRequest(tenant_id=tenant, agent_id="dan")
    )
    await platform.challenges.ListAgentChallenges(
        challenges_service_pb2.ListAgentChallengesRequest(tenant_id=tenant, agent_id="dan")
    )
    await platform.leaderboards.GetLeaderboard(
        leaderboards_service_pb2.GetLeaderboardRequest(tenant_id=tenant, limit=10)
    )


async def _republished(platform: Platform) -> bool:
    text = await asyncio.to_thread(platform.metrics, "gateway")
    return counter(text, "accolade_gateway_outbox_republished_messages_total") > 0


async def _has_badges(platform: Platform, tenant: str, agent: str, badges: set[str]) -> bool:
    return set(await platform.badges(tenant, agent)) == badges


async def _has_score(platform: Platform, tenant: str, agent: str) -> bool:
    return agent in await platform.scores(tenant)


async def _is(awaitable, expected) -> bool:  # type: ignore[no-untyped-def]
    return bool(await awaitable == expected)
