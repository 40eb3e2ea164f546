"""TLS settings: both files or neither, readable PEM, and the plaintext warning."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from accolade.runtime import tls
from accolade.runtime.settings import Settings, SettingsError

REQUIRED = {
    "ACCOLADE_DATABASE_URL": "postgresql://accolade@db:5432/accolade",
    "ACCOLADE_KAFKA_BOOTSTRAP": "kafka:9092",
}


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ("ACCOLADE_TLS_CERT_FILE", "ACCOLADE_TLS_KEY_FILE"),
        ("ACCOLADE_TLS_KEY_FILE", "ACCOLADE_TLS_CERT_FILE"),
    ],
)
def test_a_certificate_needs_its_key_and_the_key_its_certificate(given: str, missing: str) -> None:
    with pytest.raises(SettingsError, match=f"^{missing} is required with {given}$"):
        Settings.from_env("gateway", {**REQUIRED, given: "/etc/accolade/tls/x.pem"})


def test_the_probe_port_is_off_unless_set() -> None:
    assert Settings.from_env("gateway", REQUIRED).probe_port is None
    assert (
        Settings.from_env("gateway", {**REQUIRED, "ACCOLADE_PROBE_PORT": "8090"}).probe_port == 8090
    )
    with pytest.raises(SettingsError, match="ACCOLADE_PROBE_PORT"):
        Settings.from_env("gateway", {**REQUIRED, "ACCOLADE_PROBE_PORT": "70000"})


def _pair(directory: Path) -> tuple[Path, Path]:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=x"],
        cwd=directory, check=True, capture_output=True,
    )  # fmt: skip
    return directory / "cert.pem", directory / "key.pem"


def _settings(cert: Path | str, key: Path | str) -> Settings:
    env = {**REQUIRED, "ACCOLADE_TLS_CERT_FILE": str(cert), "ACCOLADE_TLS_KEY_FILE": str(key)}
    return Settings.from_env("gateway", env)


def test_a_readable_pair_loads_and_a_bad_one_is_refused_naming_the_variable(
    tmp_path: Path,
) -> None:
    cert, key = _pair(tmp_path)
    loaded = tls.load(_settings(cert, key).tls)
    assert loaded is not None and loaded.cert == cert.read_bytes()

    with pytest.raises(SettingsError, match=r"^ACCOLADE_TLS_KEY_FILE: cannot read .*missing\.pem"):
        tls.load(_settings(cert, tmp_path / "missing.pem").tls)
    (tmp_path / "junk.pem").write_text("not a key\n")
    with pytest.raises(SettingsError, match="not a PEM certificate and its private key"):
        tls.load(_settings(cert, tmp_path / "junk.pem").tls)
    (tmp_path / "other").mkdir()
    other_cert, _ = _pair(tmp_path / "other")
    with pytest.raises(SettingsError, match="not a PEM certificate and its private key"):
        tls.load(_settings(other_cert, key).tls)  # a certificate with another's key


def test_no_tls_at_all_is_none() -> None:
    settings = Settings.from_env("gateway", REQUIRED)
    assert tls.load(settings.tls) is None
    assert tls.channel_credentials(settings.tls) is None


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        ("0.0.0.0", True),  # noqa: S104
        ("10.1.2.3", True),
        ("::", True),
        ("accolade.example", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("localhost", False),
    ],
)
def test_plaintext_off_loopback_is_warned_about(host: str, warned: bool) -> None:
    settings = Settings.from_env("gateway", {**REQUIRED, "ACCOLADE_GRPC_HOST": host})
    warning = tls.plaintext_warning(settings)
    assert (warning is not None) == warned
    if warning:
        assert host in warning and "ACCOLADE_TLS_CERT_FILE" in warning


def test_tls_is_not_warned_about(tmp_path: Path) -> None:
    cert, key = _pair(tmp_path)
    assert tls.plaintext_warning(_settings(cert, key)) is None
