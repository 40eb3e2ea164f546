"""Chart tests: lint and render every ci/*-values.yaml, validate against Kubernetes schemas, assert."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from accolade import catalog
from accolade.runtime.settings import CONSOLE_PORT, SERVICE_PORTS, Topics

CHART = Path(__file__).resolve().parents[1]
REPO = CHART.parents[1]
SCENARIOS = sorted(
    p.name.removesuffix("-values.yaml") for p in (CHART / "ci").glob("*-values.yaml")
)
# The oldest version Chart.yaml's kubeVersion admits, and the newest with bundled schemas.
KUBE_VERSIONS = ("1.27.0", "1.37.0")
# Custom resources: kubernetes-validate has no schemas for them; their shape is checked here.
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"),
    ("kafka.strimzi.io/v1", "KafkaTopic"),
    ("gateway.networking.k8s.io/v1", "GRPCRoute"),
}
SERVICES = tuple(SERVICE_PORTS)
RELEASE = "demo"
NAMESPACE = "cc"

Doc = dict[str, Any]


class Helm:
    """Runs the helm binary against the chart, caching renders (each takes ~0.15 s)."""

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self._renders: dict[tuple[str, ...], list[Doc]] = {}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, timeout=60, check=False
        )

    @staticmethod
    def _args(scenario: str | None, sets: tuple[str, ...], kube_version: str | None) -> list[str]:
        args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
        if scenario:
            args += ["-f", str(CHART / "ci" / f"{scenario}-values.yaml")]
        for value in sets:
            args += ["--set", value]
        if kube_version:
            args += ["--kube-version", kube_version]
        return args

    def render(
        self, scenario: str | None, *sets: str, kube_version: str | None = None
    ) -> list[Doc]:
        """Every object `helm template` renders, parsed."""
        key = (scenario or "", kube_version or "", *sets)
        if key not in self._renders:
            result = self.run(*self._args(scenario, sets, kube_version))
            assert result.returncode == 0, result.stderr
            self._renders[key] = [d for d in yaml.safe_load_all(result.stdout) if d]
        return self._renders[key]

    def refuse(self, scenario: str | None, *sets: str) -> str:
        """Renders values that must be refused; returns helm's error output."""
        result = self.run(*self._args(scenario, sets, None))
        assert result.returncode != 0, f"helm template accepted {sets}"
        return result.stderr


@pytest.fixture(scope="session")
def helm() -> Helm:
    """helm from scripts/install-helm.sh (fetched once into .tools/bin)."""
    try:
        result = subprocess.run(
            [str(REPO / "scripts" / "install-helm.sh")],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        problem = result.stderr.strip() if result.returncode else ""
    except (OSError, subprocess.TimeoutExpired) as exc:
        problem = repr(exc)
    if problem:
        message = f"scripts/install-helm.sh could not install helm: {problem}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return Helm(REPO / ".tools" / "bin" / "helm")


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def component(doc: Doc) -> str:
    return str(doc["metadata"]["labels"].get("app.kubernetes.io/component", ""))


def by_component(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {component(d): d for d in of_kind(docs, kind)}


def pod_specs(docs: list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    """(owner, pod spec) of every Deployment and Job."""
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield doc, doc["spec"]["template"]["spec"]


def load_values_file(scenario: str) -> Doc:
    return yaml.safe_load((CHART / "ci" / f"{scenario}-values.yaml").read_text())


def env_of(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env", [])}


# --- lint and Kubernetes schemas ---------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lint_strict(helm: Helm, scenario: str) -> None:
    result = helm.run(
        "lint", "--strict", str(CHART), "-f", str(CHART / "ci" / f"{scenario}-values.yaml")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_objects_validate_against_kubernetes_schemas(
    helm: Helm, scenario: str, kube_version: str
) -> None:
    docs = helm.render(scenario, kube_version=kube_version)
    errors = []
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {path}: {exc.message}")
    assert not errors, "\n".join(errors)


def test_kubernetes_older_than_supported_is_refused(helm: Helm) -> None:
    result = helm.run(*Helm._args("minimal", (), "1.26.0"))
    assert result.returncode != 0
    assert "kubeVersion" in result.stderr


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_custom_resources_have_their_shape(helm: Helm, scenario: str) -> None:
    docs = helm.render(scenario)
    services = {d["metadata"]["name"]: d for d in of_kind(docs, "Service")}
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) not in CUSTOM_KINDS:
            continue
        assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}, doc["kind"]
        assert doc["metadata"]["name"] and doc["metadata"]["labels"]
        spec = doc["spec"]
        if doc["kind"] == "ServiceMonitor":
            selected = [
                s
                for s in services.values()
                if spec["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
            ]
            assert len(selected) == 1, doc["metadata"]["name"]
            assert [p["name"] for p in selected[0]["spec"]["ports"]].count("metrics") == 1
            assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
            assert [e["port"] for e in spec["endpoints"]] == ["metrics"]
            assert spec["endpoints"][0]["path"] == "/metrics"
        elif doc["kind"] == "PrometheusRule":
            assert spec["groups"]
            for group in spec["groups"]:
                assert group["name"] and group["rules"]
                for rule in group["rules"]:
                    assert ("alert" in rule) != ("record" in rule)
                    assert isinstance(rule["expr"], str | int | float)
        elif doc["kind"] == "KafkaTopic":
            assert doc["metadata"]["labels"]["strimzi.io/cluster"]
            assert isinstance(spec["topicName"], str)
            assert isinstance(spec["partitions"], int) and spec["partitions"] >= 1
            assert isinstance(spec["replicas"], int) and spec["replicas"] >= 1
            assert all(
                isinstance(v, str | int | float | bool) for v in spec.get("config", {}).values()
            )
        elif doc["kind"] == "GRPCRoute":
            assert spec["parentRefs"] and all(ref["name"] for ref in spec["parentRefs"])
            for rule in spec["rules"]:
                for backend in rule["backendRefs"]:
                    ports = [p["port"] for p in services[backend["name"]]["spec"]["ports"]]
                    assert backend["port"] in ports


# --- workloads --------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_one_deployment_per_service_with_its_args_and_ports(helm: Helm, scenario: str) -> None:
    docs = helm.render(scenario)
    deployments = by_component(docs, "Deployment")
    assert sorted(deployments) == sorted(SERVICES)
    services = by_component(docs, "Service")
    configs = by_component(docs, "ConfigMap")
    for name, deployment in deployments.items():
        grpc_port, metrics_port = SERVICE_PORTS[name]
        assert deployment["metadata"]["name"] == f"{RELEASE}-accolade-{name}"
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["name"] == name
        assert container["command"] == ["accolade"]
        assert container["args"] == ["serve", name]
        console = {"console": CONSOLE_PORT} if name == "gateway" else {}
        assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
            "grpc": grpc_port,
            "metrics": metrics_port,
            **console,
        }
        assert container["envFrom"][0] == {
            "configMapRef": {"name": configs[name]["metadata"]["name"]}
        }
        assert "ACCOLADE_DATABASE_URL" in env_of(container)
        readiness = container["readinessProbe"]["grpc"]
        assert readiness == {"port": grpc_port, "service": catalog.load(name).grpc_service}
        assert container["livenessProbe"]["grpc"] == {"port": grpc_port, "service": "liveness"}
        assert container["startupProbe"]["grpc"] == {"port": grpc_port, "service": ""}

        service_ports = {p["name"]: p for p in services[name]["spec"]["ports"]}
        assert service_ports["grpc"]["port"] == grpc_port
        assert service_ports["grpc"]["appProtocol"] == "grpc"
        assert service_ports["metrics"]["port"] == metrics_port
        assert {k: service_ports[k]["port"] for k in console} == console
        assert services[name]["spec"]["selector"].items() <= (
            deployment["spec"]["template"]["metadata"]["labels"].items()
        )
        assert deployment["spec"]["selector"]["matchLabels"] == services[name]["spec"]["selector"]

        data = configs[name]["data"]
        assert data["ACCOLADE_GRPC_PORT"] == str(grpc_port)
        assert data["ACCOLADE_METRICS_PORT"] == str(metrics_port)
        assert data["ACCOLADE_LOG_FORMAT"] == "json"
        if name == "gateway":
            # The console's snapshot reads from the achievements Service, on its gRPC port.
            host, port = data["ACCOLADE_ACHIEVEMENTS_ADDRESS"].split(":")
            assert host == services["achievements"]["metadata"]["name"]
            assert int(port) == SERVICE_PORTS["achievements"][0]
            assert data["ACCOLADE_CONSOLE_PORT"] == str(CONSOLE_PORT)
        else:
            assert "ACCOLADE_CONSOLE_PORT" not in data
        assert (
            float(data["ACCOLADE_SHUTDOWN_GRACE_SECONDS"])
            < (deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"])
        )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_pod_is_locked_down_and_bounded(helm: Helm, scenario: str) -> None:
    docs = helm.render(scenario)
    owners = [owner["kind"] for owner, _ in pod_specs(docs)]
    assert owners.count("Deployment") == len(SERVICES) and owners.count("Job") == 1
    for owner, pod in pod_specs(docs):
        where = f"{owner['kind']}/{owner['metadata']['name']}"
        assert pod["automountServiceAccountToken"] is False, where
        assert pod["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        }, where
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) >= {"cpu", "memory"}, where
            mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
            tmp = mounts["/tmp"]  # noqa: S108 - a path inside the pod, not a file opened here
            assert "emptyDir" in volumes[tmp["name"]], where
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if owner["kind"] == "Job":
                    assert probe not in container, where
                else:
                    assert "grpc" in container[probe], f"{where} {probe}"


def test_defaults_give_the_shutdown_room_and_a_budget_per_service(helm: Helm) -> None:
    docs = helm.render("minimal")
    for name, deployment in by_component(docs, "Deployment").items():
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30
        assert (
            by_component(docs, "ConfigMap")[name]["data"]["ACCOLADE_SHUTDOWN_GRACE_SECONDS"] == "20"
        )
        assert deployment["spec"]["replicas"] == 1
    budgets = by_component(docs, "PodDisruptionBudget")
    assert sorted(budgets) == sorted(SERVICES)
    for name, budget in budgets.items():
        assert budget["spec"]["maxUnavailable"] == 1
        assert budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == name
    for kind in (
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "ServiceMonitor",
        "PrometheusRule",
        "Ingress",
        "GRPCRoute",
        "KafkaTopic",
    ):
        assert not of_kind(docs, kind), f"{kind} should be off by default"


def test_budgets_and_autoscalers_follow_their_switches(helm: Helm) -> None:
    docs = helm.render(
        "minimal", "defaults.pdb.create=false", "services.gateway.autoscaling.enabled=true"
    )
    assert not of_kind(docs, "PodDisruptionBudget")
    (hpa,) = of_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": f"{RELEASE}-accolade-gateway",
    }
    deployments = by_component(docs, "Deployment")
    assert "replicas" not in deployments["gateway"]["spec"]
    assert deployments["feedback"]["spec"]["replicas"] == 1


def test_full_scenario_scales_every_service(helm: Helm) -> None:
    docs = helm.render("full")
    autoscalers = by_component(docs, "HorizontalPodAutoscaler")
    assert sorted(autoscalers) == sorted(SERVICES)
    for hpa in autoscalers.values():
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
        targets = {
            m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
            for m in hpa["spec"]["metrics"]
        }
        assert targets == {"cpu": 65, "memory": 80}
    for deployment in of_kind(docs, "Deployment"):
        assert "replicas" not in deployment["spec"]
    for budget in of_kind(docs, "PodDisruptionBudget"):
        assert budget["spec"] == {"minAvailable": 1, "selector": budget["spec"]["selector"]}
    gateway = by_component(docs, "Deployment")["gateway"]["spec"]["template"]["spec"]
    assert gateway["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "768Mi"}
    image = gateway["containers"][0]["image"]
    assert (
        image == "registry.example.com/cc/accolade@" + load_values_file("full")["image"]["digest"]
    )
    assert (
        gateway["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"][
            "app.kubernetes.io/component"
        ]
        == "gateway"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_disabling_a_service_removes_its_objects(helm: Helm, service: str) -> None:
    exposure = ("ingress.enabled=false", "grpcRoute.enabled=false") if service == "gateway" else ()
    docs = helm.render("full", f"services.{service}.enabled=false", *exposure)
    assert sorted(by_component(docs, "Deployment")) == sorted(set(SERVICES) - {service})
    assert not [d for d in docs if component(d) == service]
    assert not [
        d for d in docs if f"-{service}" in d["metadata"]["name"] and d["kind"] != "KafkaTopic"
    ]


def test_gateway_exposure_needs_the_gateway(helm: Helm) -> None:
    error = helm.refuse("full", "services.gateway.enabled=false")
    assert "enable services.gateway" in error


# --- the migration hook ------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_migration_job_is_a_pre_install_hook_that_needs_no_release_objects(
    helm: Helm, scenario: str
) -> None:
    docs = helm.render(scenario)
    (job,) = of_kind(docs, "Job")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    # The chart's service account is a normal object: it does not exist yet.
    assert "serviceAccountName" not in pod
    (container,) = pod["containers"]
    strimzi = load_values_file(scenario).get("kafka", {}).get("strimzi", {}).get("topics", {})
    assert container["args"] == (
        ["migrate", "--no-topics"] if strimzi.get("enabled") else ["migrate"]
    )
    text = json.dumps(pod)
    assert "configMapRef" not in text and "configMapKeyRef" not in text
    env = env_of(container)
    assert {"ACCOLADE_DATABASE_URL", "ACCOLADE_KAFKA_BOOTSTRAP", "ACCOLADE_TOPIC_NAMESPACE"} <= set(
        env
    )
    # A Secret the job reads is either there before the release or a hook that runs first.
    secrets = {d["metadata"]["name"]: d for d in of_kind(docs, "Secret")}
    weight = int(annotations["helm.sh/hook-weight"])
    for var in env.values():
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        if ref and ref["name"] in secrets:
            hook = secrets[ref["name"]]["metadata"]["annotations"]
            assert hook["helm.sh/hook"] == "pre-install,pre-upgrade"
            assert int(hook["helm.sh/hook-weight"]) < weight
            assert ref["key"] in secrets[ref["name"]]["data"]


def test_migration_can_be_switched_off(helm: Helm) -> None:
    docs = helm.render("minimal", "migration.enabled=false")
    assert not of_kind(docs, "Job")
    assert [d["metadata"]["name"] for d in of_kind(docs, "Secret")] == [f"{RELEASE}-accolade"]


# --- credentials and Kafka security ------------------------------------------------------


def test_secret_holds_credentials_given_as_values(helm: Helm) -> None:
    docs = helm.render("minimal")
    dsn = load_values_file("minimal")["postgresql"]["dsn"]
    secrets = {d["metadata"]["name"]: d for d in of_kind(docs, "Secret")}
    assert sorted(secrets) == [f"{RELEASE}-accolade", f"{RELEASE}-accolade-migrate"]
    for secret in secrets.values():
        assert base64.b64decode(secret["data"]["database-url"]).decode() == dsn
    for deployment in of_kind(docs, "Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        ref = env_of(container)["ACCOLADE_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": f"{RELEASE}-accolade", "key": "database-url"}
        assert "checksum/secret" in deployment["spec"]["template"]["metadata"]["annotations"]


def test_no_secret_when_every_credential_comes_from_existing_secrets(helm: Helm) -> None:
    docs = helm.render("external-secrets")
    assert not of_kind(docs, "Secret")
    for owner, pod in pod_specs(docs):
        env = env_of(pod["containers"][0])
        assert env["ACCOLADE_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "accolade-db-app",
            "key": "uri",
        }, owner["metadata"]["name"]
        assert env["ACCOLADE_KAFKA_SASL_USERNAME"]["valueFrom"]["secretKeyRef"] == {
            "name": "accolade-kafka-user",
            "key": "username",
        }
        assert env["ACCOLADE_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "accolade-kafka-user",
            "key": "password",
        }


@pytest.mark.parametrize("scenario", ["external-secrets", "full"])
def test_kafka_tls_mounts_the_ca_bundle_and_sasl_sets_its_mechanism(
    helm: Helm, scenario: str
) -> None:
    docs = helm.render(scenario)
    kafka = load_values_file(scenario)["kafka"]
    for name, config in by_component(docs, "ConfigMap").items():
        if name not in SERVICES:
            continue
        assert config["data"]["ACCOLADE_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert config["data"]["ACCOLADE_KAFKA_SASL_MECHANISM"] == kafka["sasl"]["mechanism"]
        assert config["data"]["ACCOLADE_KAFKA_SSL_CAFILE"] == "/etc/accolade/kafka-ca/ca.crt"
    for owner, pod in pod_specs(docs):
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["kafka-ca"]["secret"]["secretName"] == kafka["tls"]["existingSecret"]
        assert volumes["kafka-ca"]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
        (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "kafka-ca"]
        assert mount == {
            "name": "kafka-ca",
            "mountPath": "/etc/accolade/kafka-ca",
            "readOnly": True,
        }
        if owner["kind"] == "Job":
            env = env_of(pod["containers"][0])
            assert env["ACCOLADE_KAFKA_SSL_CAFILE"]["value"] == "/etc/accolade/kafka-ca/ca.crt"
            assert env["ACCOLADE_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"


def test_tls_mounts_the_certificate_and_probes_ask_the_plaintext_health_port(helm: Helm) -> None:
    docs = helm.render(
        "minimal",
        "tls.enabled=true",
        "tls.existingSecret=accolade-tls",
        "metrics.serviceMonitor.enabled=true",
        "ingress.enabled=true",
    )
    # Prometheus scrapes over TLS, trusting the same CA, and ingress-nginx speaks TLS to
    # the gateway.
    for name, monitor in by_component(docs, "ServiceMonitor").items():
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["scheme"] == "https"
        assert endpoint["tlsConfig"]["ca"]["secret"] == {"name": "accolade-tls", "key": "ca.crt"}
        assert (
            endpoint["tlsConfig"]["serverName"]
            == by_component(docs, "Service")[name]["metadata"]["name"]
        )
    (ingress,) = [d for d in docs if d["kind"] == "Ingress"]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == (
        "GRPCS"
    )
    configs = by_component(docs, "ConfigMap")
    for name, deployment in by_component(docs, "Deployment").items():
        data = configs[name]["data"]
        assert (
            data["ACCOLADE_TLS_CERT_FILE"],
            data["ACCOLADE_TLS_KEY_FILE"],
            data["ACCOLADE_TLS_CA_FILE"],
            data["ACCOLADE_PROBE_PORT"],
        ) == (
            "/etc/accolade/tls/tls.crt",
            "/etc/accolade/tls/tls.key",
            "/etc/accolade/tls/ca.crt",
            "8090",
        )
        pod = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["tls"]["secret"]["secretName"] == "accolade-tls"
        (container,) = pod["containers"]
        assert {"name": "tls", "mountPath": "/etc/accolade/tls", "readOnly": True} in container[
            "volumeMounts"
        ]
        assert {"name": "probe", "containerPort": 8090, "protocol": "TCP"} in container["ports"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["grpc"]["port"] == 8090
    # Off by default: no certificate, and probes on the gRPC port.
    for name, config in by_component(helm.render("minimal"), "ConfigMap").items():
        if name in SERVICES:
            assert "ACCOLADE_TLS_CERT_FILE" not in config["data"]
            assert "ACCOLADE_PROBE_PORT" not in config["data"]
    assert "tls.existingSecret" in helm.refuse("minimal", "tls.enabled=true")


# --- network policies --------------------------------------------------------------------


def _ports(rule: Doc) -> set[tuple[Any, str]]:
    return {(p["port"], p.get("protocol", "TCP")) for p in rule["ports"]}


EGRESS = [{(53, "UDP"), (53, "TCP")}, {(9092, "TCP")}, {(5432, "TCP")}]


def test_network_policies_open_the_gateway_and_close_the_rest_by_default(helm: Helm) -> None:
    docs = helm.render("minimal", "networkPolicy.enabled=true")
    policies = by_component(docs, "NetworkPolicy")
    assert sorted(policies) == sorted(SERVICES)
    deployments = by_component(docs, "Deployment")
    for name, policy in policies.items():
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
        gateway_pods = deployments["gateway"]["spec"]["template"]["metadata"]["labels"]
        if name == "gateway":
            assert spec["ingress"] == [
                {
                    "ports": [
                        {"port": "grpc", "protocol": "TCP"},
                        {"port": "console", "protocol": "TCP"},
                    ]
                }
            ]
        elif name == "achievements":
            # Only the gateway's console may call achievements.
            (rule,) = spec["ingress"]
            assert rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
            (peer,) = rule["from"]
            assert peer["podSelector"]["matchLabels"].items() <= gateway_pods.items()
            assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway"
        else:
            assert spec["ingress"] == []
        # Egress only to DNS, Kafka and PostgreSQL, on their ports, and from the gateway to
        # the achievements pods.
        shared = spec["egress"][:3]
        assert [_ports(rule) for rule in shared] == EGRESS
        assert all("to" not in rule for rule in shared)
        if name == "gateway":
            (achievements,) = spec["egress"][3:]
            assert _ports(achievements) == {(SERVICE_PORTS["achievements"][0], "TCP")}
            (peer,) = achievements["to"]
            assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == (
                "achievements"
            )
        else:
            assert spec["egress"][3:] == []


def test_network_policies_follow_the_configured_peers(helm: Helm) -> None:
    docs = helm.render("full")
    values = load_values_file("full")["networkPolicy"]
    for name, policy in by_component(docs, "NetworkPolicy").items():
        spec = policy["spec"]
        clients = values["ingress"]["gateway" if name == "gateway" else "services"]["from"]
        rules = spec["ingress"]
        if name == "achievements":
            gateway_rule, *rules = rules
            assert gateway_rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
        grpc_rule, metrics_rule = rules
        ports = [{"port": "grpc", "protocol": "TCP"}]
        if name == "gateway":
            ports.append({"port": "console", "protocol": "TCP"})
        assert grpc_rule == {"from": clients, "ports": ports}
        assert metrics_rule == {
            "from": values["ingress"]["metrics"]["from"],
            "ports": [{"port": "metrics", "protocol": "TCP"}],
        }
        dns, kafka, postgresql = spec["egress"][:3]
        assert (_ports(dns), dns["to"]) == (EGRESS[0], values["egress"]["dns"]["to"])
        assert (_ports(kafka), kafka["to"]) == ({(9093, "TCP")}, values["egress"]["kafka"]["to"])
        assert (_ports(postgresql), postgresql["to"]) == (
            EGRESS[2],
            values["egress"]["postgresql"]["to"],
        )


# --- Kafka topics, monitoring, exposure --------------------------------------------------


def test_strimzi_topics_are_every_topic_the_services_use(helm: Helm) -> None:
    docs = helm.render("strimzi")
    values = load_values_file("strimzi")["kafka"]
    topics = Topics(values["topics"]["namespace"])
    dead_letters = {
        topics.dead_letter(f"{name}.{consumer.name}")
        for name in catalog.NAMES
        for consumer in catalog.load(name).consumers
    }
    kafka_topics = {d["spec"]["topicName"]: d for d in of_kind(docs, "KafkaTopic")}
    assert set(kafka_topics) == set(topics.all()) | dead_letters
    for topic, doc in kafka_topics.items():
        assert doc["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert doc["metadata"]["namespace"] == "kafka"
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == "accolade-kafka"
        assert doc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert (doc["spec"]["partitions"], doc["spec"]["replicas"]) == (6, 3)
        config = doc["spec"]["config"]
        assert config["min.insync.replicas"] == 2
        assert config["retention.ms"] == (2419200000 if topic in dead_letters else 604800000)
        assert (config.get("cleanup.policy") == "compact") == (topic in topics.compacted())
    config = by_component(docs, "ConfigMap")["gateway"]["data"]
    assert config["ACCOLADE_INBOX_RETENTION_SECONDS"] == "1209600"
    assert config["ACCOLADE_TOPIC_NAMESPACE"] == "cc-prod"
    assert config["ACCOLADE_TOPIC_PARTITIONS"] == "6"
    assert config["ACCOLADE_TOPIC_REPLICATION_FACTOR"] == "3"


def test_topics_keep_messages_as_long_as_the_settings_say_and_the_inbox_outlasts_them(
    helm: Helm,
) -> None:
    docs = helm.render(
        "minimal",
        "kafka.strimzi.topics.enabled=true",
        "kafka.strimzi.topics.clusterName=k",
        "kafka.topics.retentionSeconds=86400",
    )
    topics = Topics("accolade")
    for doc in of_kind(docs, "KafkaTopic"):
        config = doc["spec"].get("config", {})
        if doc["spec"]["topicName"] in topics.compacted():
            assert config == {"cleanup.policy": "compact"}
        else:
            assert config == {"retention.ms": 86400000}
    settings = {name: by_component(docs, "ConfigMap")[name]["data"] for name in SERVICES}
    for data in settings.values():
        assert data["ACCOLADE_TOPIC_RETENTION_SECONDS"] == "86400"
        assert data["ACCOLADE_INBOX_RETENTION_SECONDS"] == "604800"
        assert data["ACCOLADE_OUTBOX_RETENTION_SECONDS"] == "3600"
    # The job that creates topics and the services read the same retentions.
    (job,) = of_kind(docs, "Job")
    env = env_of(job["spec"]["template"]["spec"]["containers"][0])
    assert env["ACCOLADE_TOPIC_RETENTION_SECONDS"]["value"] == "86400"


def test_prometheus_rule_carries_the_alerts_file(helm: Helm) -> None:
    docs = helm.render("full")
    (rule,) = of_kind(docs, "PrometheusRule")
    alerts = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]
    assert rule["metadata"]["labels"]["release"] == "prometheus"


def test_dashboard_config_map_carries_the_dashboard_file(helm: Helm) -> None:
    docs = helm.render("full")
    (dashboard,) = [d for d in of_kind(docs, "ConfigMap") if component(d) == "monitoring"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"]["grafana_folder"] == "Accolade"
    expected = json.loads((CHART / "files" / "dashboard.json").read_text())
    assert json.loads(dashboard["data"]["accolade.json"]) == expected


def test_service_monitors_carry_the_prometheus_selector_labels(helm: Helm) -> None:
    docs = helm.render("full")
    monitors = by_component(docs, "ServiceMonitor")
    assert sorted(monitors) == sorted(SERVICES)
    for monitor in monitors.values():
        assert monitor["metadata"]["labels"]["release"] == "prometheus"
        # The job is then the Service's name, which the alerts select on (job=~".*accolade.*").
        assert "jobLabel" not in monitor["spec"]


def test_gateway_is_exposed_by_ingress_and_grpc_route(helm: Helm) -> None:
    docs = helm.render("full")
    gateway = f"{RELEASE}-accolade-gateway"
    (ingress,) = of_kind(docs, "Ingress")
    assert (
        ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    )
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "accolade.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {
        "name": gateway,
        "port": {"name": "grpc"},
    }
    assert ingress["spec"]["tls"] == [
        {"hosts": ["accolade.example.com"], "secretName": f"{gateway}-tls"}
    ]
    (route,) = of_kind(docs, "GRPCRoute")
    assert route["spec"]["hostnames"] == ["grpc.accolade.example.com"]
    assert route["spec"]["rules"] == [{"backendRefs": [{"name": gateway, "port": 50051}]}]


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("unknownKey=1", "unknownKey"),
        ("services.gateway.replicas=2", "replicas"),
        ("kafka.sasl.mechansim=PLAIN", "mechansim"),
        ("defaults.replicaCount=many", "replicaCount"),
        ("defaults.pdb.create=maybe", "create"),
        ("config.logFormat=xml", "logFormat"),
        ("kafka.sasl.mechanism=GSSAPI", "mechanism"),
        ("services.feedback.ports.grpc=70000", "grpc"),
    ],
)
def test_schema_rejects_unknown_keys_and_wrong_types(helm: Helm, setting: str, named: str) -> None:
    error = helm.refuse("minimal", setting)
    assert "schema" in error.lower() or "at '" in error
    assert named in error


def test_missing_database_url_is_refused_with_a_clear_message(helm: Helm) -> None:
    error = helm.refuse(None, "kafka.bootstrapServers=kafka:9092")
    assert "set postgresql.dsn" in error and "postgresql.existingSecret" in error


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (("kafka.bootstrapServers=",), "set kafka.bootstrapServers"),
        (("kafka.sasl.enabled=true", "kafka.sasl.username=u"), "set kafka.sasl.password"),
        (("kafka.sasl.enabled=true", "kafka.sasl.password=p"), "set kafka.sasl.username"),
        (("kafka.strimzi.topics.enabled=true",), "set kafka.strimzi.topics.clusterName"),
        (
            ("services.gateway.shutdownGraceSeconds=30",),
            "must be shorter than terminationGracePeriodSeconds",
        ),
        (
            ("defaults.terminationGracePeriodSeconds=15",),
            "must be shorter than terminationGracePeriodSeconds",
        ),
        (("grpcRoute.enabled=true",), "set grpcRoute.parentRefs"),
        (
            ("config.inboxRetentionSeconds=200000",),
            "config.inboxRetentionSeconds must be longer than",
        ),
    ],
)
def test_values_that_cannot_work_are_refused(
    helm: Helm, sets: tuple[str, ...], message: str
) -> None:
    assert message in helm.refuse("minimal", *sets)


# --- documentation -----------------------------------------------------------------------


def _readme_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "accolade_chart_readme", CHART / "scripts" / "readme.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # dataclasses looks the module up by name while building the classes.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _params() -> list[str]:
    sections = _readme_module().parse((CHART / "values.yaml").read_text())
    return [path for section in sections for path, _ in section.params]


def _leaves(node: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip(".")


def test_readme_tables_list_every_param() -> None:
    readme = (CHART / "README.md").read_text()
    tables = readme.split("<!-- parameters:start -->")[1].split("<!-- parameters:end -->")[0]
    missing = [p for p in _params() if f"| `{p}` |" not in tables]
    assert not missing, f"README.md lacks {missing}: run charts/accolade/scripts/readme.py"


def test_readme_tables_are_up_to_date() -> None:
    readme = (CHART / "README.md").read_text()
    assert _readme_module().rendered(readme, (CHART / "values.yaml").read_text()) == readme, (
        "README.md is stale: run charts/accolade/scripts/readme.py"
    )


def test_every_value_is_documented_and_in_the_schema() -> None:
    params = _params()
    assert len(params) == len(set(params)), "a @param is documented twice"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    undocumented = [
        leaf
        for leaf in _leaves(values)
        if not any(leaf == p or leaf.startswith(p + ".") for p in params)
    ]
    assert not undocumented, f"values without a ## @param: {undocumented}"

    schema = json.loads((CHART / "values.schema.json").read_text())

    def properties(node: Doc) -> Doc:
        if "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
        merged: Doc = dict(node.get("properties", {}))
        for part in node.get("allOf", []):
            merged.update(properties(part))
        return merged

    for param in params:
        node: Doc = schema
        for key in param.split("."):
            props = properties(node)
            assert key in props, f"{param} is not in values.schema.json"
            node = props[key]
