"""Settings from the environment: fail fast naming the variable, defaults from the design."""

from __future__ import annotations

import dataclasses

import pytest

from accolade.runtime import kafka
from accolade.runtime.settings import KafkaSecurity, Settings, SettingsError, Tls, Topics

CREDENTIAL = "s3cret"  # made up, for a SASL password
REQUIRED = {
    "ACCOLADE_DATABASE_URL": "postgresql://db.internal/accolade",
    "ACCOLADE_KAFKA_BOOTSTRAP": "kafka-0.kafka:9092",
}


@pytest.mark.parametrize("missing", sorted(REQUIRED))
@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_required_variable_fails_naming_it(missing: str, value: str | None) -> None:
    env = {k: v for k, v in REQUIRED.items() if k != missing}
    if value is not None:
        env[missing] = value

    with pytest.raises(SettingsError, match=missing):
        Settings.from_env("gateway", env)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ACCOLADE_GRPC_PORT", "fifty"),
        ("ACCOLADE_GRPC_PORT", "65536"),
        ("ACCOLADE_GRPC_PORT", "-1"),
        ("ACCOLADE_METRICS_PORT", "9101.5"),
        ("ACCOLADE_TOPIC_PARTITIONS", "0"),
        ("ACCOLADE_SHUTDOWN_GRACE_SECONDS", "-1"),
        ("ACCOLADE_SHUTDOWN_GRACE_SECONDS", "soon"),
        ("ACCOLADE_SHUTDOWN_GRACE_SECONDS", "nan"),
        ("ACCOLADE_OUTBOX_RETENTION_SECONDS", "-0.5"),
        ("ACCOLADE_OUTBOX_RETENTION_SECONDS", "inf"),
        ("ACCOLADE_HEALTH_INTERVAL_SECONDS", "1s"),
        ("ACCOLADE_LOG_FORMAT", "xml"),
        ("ACCOLADE_LOG_LEVEL", "verbose"),
        ("ACCOLADE_TOPIC_REPLICATION_FACTOR", "0"),
        ("ACCOLADE_KAFKA_SECURITY_PROTOCOL", "TLS"),
        ("ACCOLADE_CONSUMER_BATCH_SIZE", "0"),
        ("ACCOLADE_CONSUMER_BATCH_SIZE", "10001"),
        ("ACCOLADE_KAFKA_FETCH_MAX_WAIT_MS", "-1"),
        ("ACCOLADE_PURGE_INTERVAL_SECONDS", "0"),
        ("ACCOLADE_EVENT_LATENESS_SECONDS", "0"),
        ("ACCOLADE_EVENT_LATENESS_SECONDS", "three days"),
        ("ACCOLADE_INTAKE_RETENTION_SECONDS", "a week"),
        # Shorter than the outbox retention plus the topic retention: an event could come
        # again after the inbox forgot it.
        ("ACCOLADE_INBOX_RETENTION_SECONDS", "86400"),
    ],
)
def test_a_malformed_variable_fails_naming_it(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env("gateway", {**REQUIRED, variable: value})


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ACCOLADE_KAFKA_SASL_PASSWORD": CREDENTIAL}, "ACCOLADE_KAFKA_SASL_USERNAME"),
        ({"ACCOLADE_KAFKA_SASL_USERNAME": "accolade"}, "ACCOLADE_KAFKA_SASL_PASSWORD"),
        (
            {
                "ACCOLADE_KAFKA_SASL_USERNAME": "accolade",
                "ACCOLADE_KAFKA_SASL_PASSWORD": CREDENTIAL,
                "ACCOLADE_KAFKA_SASL_MECHANISM": "GSSAPI",
            },
            "ACCOLADE_KAFKA_SASL_MECHANISM",
        ),
    ],
)
def test_sasl_needs_its_credentials_and_a_known_mechanism(
    env: dict[str, str], variable: str
) -> None:
    env = {**REQUIRED, "ACCOLADE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", **env}

    with pytest.raises(SettingsError, match=variable):
        Settings.from_env("gateway", env)


def test_sasl_over_tls_reaches_every_kafka_client_and_the_password_stays_out_of_logs() -> None:
    env = {
        **REQUIRED,
        "ACCOLADE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "ACCOLADE_KAFKA_SASL_MECHANISM": "scram-sha-256",
        "ACCOLADE_KAFKA_SASL_USERNAME": "accolade",
        "ACCOLADE_KAFKA_SASL_PASSWORD": CREDENTIAL,
        "ACCOLADE_TOPIC_REPLICATION_FACTOR": "3",
    }

    settings = Settings.from_env("feedback", env)
    options = kafka.connection(settings, "-tail")

    assert settings.kafka_security == KafkaSecurity(
        protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="accolade",
        sasl_password=CREDENTIAL,
    )
    assert settings.topic_replication_factor == 3
    assert CREDENTIAL not in repr(settings)
    assert options["client_id"] == "accolade-feedback-tail"
    assert (options["security_protocol"], options["sasl_mechanism"]) == (
        "SASL_SSL",
        "SCRAM-SHA-256",
    )
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "accolade",
        CREDENTIAL,
    )
    assert options["ssl_context"] is not None


def test_plaintext_needs_no_credentials() -> None:
    options = kafka.connection(Settings.from_env("gateway", REQUIRED), "")

    assert options == {
        "bootstrap_servers": REQUIRED["ACCOLADE_KAFKA_BOOTSTRAP"],
        "client_id": "accolade-gateway",
        "security_protocol": "PLAINTEXT",
    }


def test_an_unknown_service_is_refused() -> None:
    with pytest.raises(SettingsError, match="'billing'"):
        Settings.from_env("billing", REQUIRED)


# The table in DESIGN.md, written out rather than read from the code under test.
@pytest.mark.parametrize(
    ("service", "grpc_port", "metrics_port"),
    [
        ("gateway", 50051, 9101),
        ("feedback", 50052, 9102),
        ("achievements", 50053, 9103),
        ("challenges", 50054, 9104),
        ("leaderboards", 50055, 9105),
    ],
)
def test_defaults_are_the_design_ports(service: str, grpc_port: int, metrics_port: int) -> None:
    settings = Settings.from_env(service, REQUIRED)

    assert (settings.grpc_port, settings.metrics_port) == (grpc_port, metrics_port)
    assert settings.service == service
    assert settings.database_url == REQUIRED["ACCOLADE_DATABASE_URL"]
    assert settings.kafka_bootstrap == REQUIRED["ACCOLADE_KAFKA_BOOTSTRAP"]
    assert settings.topics == Topics("accolade")
    assert settings.log_format == "console"


def test_every_variable_overrides_its_default() -> None:
    env = {
        **REQUIRED,
        "ACCOLADE_GRPC_HOST": "127.0.0.1",
        "ACCOLADE_GRPC_PORT": "6000",
        "ACCOLADE_METRICS_PORT": " 0 ",
        "ACCOLADE_TOPIC_NAMESPACE": "staging",
        "ACCOLADE_TOPIC_PARTITIONS": "12",
        "ACCOLADE_SHUTDOWN_GRACE_SECONDS": "25",
        "ACCOLADE_OUTBOX_RETENTION_SECONDS": "86400",
        "ACCOLADE_TOPIC_RETENTION_SECONDS": "172800",
        "ACCOLADE_INBOX_RETENTION_SECONDS": "864000",
        "ACCOLADE_INTAKE_RETENTION_SECONDS": "2592000",
        "ACCOLADE_PURGE_INTERVAL_SECONDS": "30",
        "ACCOLADE_EVENT_LATENESS_SECONDS": "3600",
        "ACCOLADE_HEALTH_INTERVAL_SECONDS": "0.25",
        "ACCOLADE_CONSUMER_BATCH_SIZE": "2000",
        "ACCOLADE_KAFKA_FETCH_MAX_WAIT_MS": "500",
        "ACCOLADE_LOG_FORMAT": "json",
        "ACCOLADE_LOG_LEVEL": "debug",
        "ACCOLADE_CONSOLE_PORT": "9088",
        "ACCOLADE_ACHIEVEMENTS_ADDRESS": "achievements.accolade.svc:50053",
        "ACCOLADE_TLS_CERT_FILE": "/etc/accolade/tls/tls.crt",
        "ACCOLADE_TLS_KEY_FILE": "/etc/accolade/tls/tls.key",
        "ACCOLADE_TLS_CA_FILE": "/etc/accolade/tls/ca.crt",
        "ACCOLADE_PROBE_PORT": "8090",
    }

    settings = Settings.from_env("challenges", env)

    assert settings == Settings(
        service="challenges",
        database_url=REQUIRED["ACCOLADE_DATABASE_URL"],
        kafka_bootstrap=REQUIRED["ACCOLADE_KAFKA_BOOTSTRAP"],
        grpc_host="127.0.0.1",
        grpc_port=6000,
        metrics_port=0,
        topics=Topics("staging"),
        topic_partitions=12,
        shutdown_grace_seconds=25.0,
        outbox_retention_seconds=86400.0,
        topic_retention_seconds=172800.0,
        inbox_retention_seconds=864000.0,
        intake_retention_seconds=2592000.0,
        purge_interval_seconds=30.0,
        event_lateness_seconds=3600.0,
        health_interval_seconds=0.25,
        consumer_batch_size=2000,
        kafka_fetch_max_wait_ms=500,
        log_format="json",
        log_level="DEBUG",
        console_port=9088,
        achievements_address="achievements.accolade.svc:50053",
        tls=Tls(
            "/etc/accolade/tls/tls.crt", "/etc/accolade/tls/tls.key", "/etc/accolade/tls/ca.crt"
        ),
        probe_port=8090,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.grpc_port = 1  # type: ignore[misc]


def test_topic_names_follow_the_design() -> None:
    topics = Topics()

    assert topics.all() == [
        "accolade.activity.v1",
        "accolade.feedback.v1",
        "accolade.roster.v1",
        "accolade.awards.v1",
        "accolade.challenges.v1",
        "accolade.leaderboards.v1",
        "accolade.identity.v1",
    ]
    assert topics.compacted() == ["accolade.roster.v1", "accolade.identity.v1"]
    assert Topics("t42").topic("awards") == "t42.awards.v1"
    with pytest.raises(KeyError):
        topics.topic("payroll")


def test_each_consumer_has_its_own_dead_letter_topic() -> None:
    topics = Topics("t42")
    consumers = ["achievements.activity", "achievements.feedback", "leaderboards.scores"]

    dead_letters = [topics.dead_letter(c) for c in consumers]

    assert dead_letters[0] == "t42.achievements.activity.dlq.v1"
    assert len(set(dead_letters)) == len(consumers)
    assert not set(dead_letters) & set(topics.all())
