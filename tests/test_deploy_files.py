"""deploy/compose.yaml and the Helm chart speak the settings and ports the code knows."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from accolade import catalog
from accolade.runtime.settings import CONSOLE_PORT, SERVICE_PORTS

_VARIABLE = re.compile(r"\bACCOLADE_[A-Z_]+\b")


def known_settings(repo_root: Path) -> set[str]:
    source = (repo_root / "services/accolade/runtime/settings.py").read_text()
    return set(_VARIABLE.findall(source))


def test_compose_runs_every_service_on_its_ports_with_known_settings(repo_root: Path) -> None:
    compose = yaml.safe_load((repo_root / "deploy/compose.yaml").read_text())
    services = compose["services"]
    known = known_settings(repo_root)
    for name in catalog.NAMES:
        service = services[name]
        assert service["command"] == ["serve", name]
        grpc, metrics = SERVICE_PORTS[name]
        assert service["ports"] == [f"{grpc}:{grpc}", f"{metrics}:{metrics}"]
        assert set(service["environment"]) <= known, set(service["environment"]) - known
        assert service["read_only"] is True and service["user"] == "10001:10001"
    assert services["migrate"]["command"] == ["migrate"]
    scraped = yaml.safe_load((repo_root / "deploy/prometheus/prometheus.yml").read_text())
    targets = {
        t for c in scraped["scrape_configs"] for s in c["static_configs"] for t in s["targets"]
    }
    assert targets == {f"{n}:{SERVICE_PORTS[n][1]}" for n in catalog.NAMES}


def test_the_chart_sets_only_settings_the_code_reads(repo_root: Path) -> None:
    known = known_settings(repo_root)
    chart = repo_root / "charts/accolade/templates"
    used = {v for f in chart.glob("*") for v in _VARIABLE.findall(f.read_text())}
    assert used, "the chart sets no ACCOLADE_* variable"
    assert used <= known, used - known
    values = yaml.safe_load((repo_root / "charts/accolade/values.yaml").read_text())
    for name in catalog.NAMES:
        console = {"console": CONSOLE_PORT} if name == "gateway" else {}
        assert values["services"][name]["ports"] == dict(
            zip(("grpc", "metrics"), SERVICE_PORTS[name], strict=True), **console
        )
        assert values["services"][name]["grpcService"] == catalog.load(name).grpc_service
