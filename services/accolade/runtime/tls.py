"""TLS for every endpoint a service listens on (gRPC, metrics, the console) and for the
one call a service makes to another (the gateway's console to achievements).

The certificate and key are read once at start; a file that cannot be read or does not
hold a PEM certificate and its key stops the service with the variable named. Without
them the endpoints are plaintext, which is fine on loopback and logged as a warning on
any other address: bearer keys would cross the network readable.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import ssl

import grpc

from accolade.runtime.settings import Settings, SettingsError, Tls


@dataclasses.dataclass(frozen=True, slots=True)
class ServerTls:
    """The certificate chain and key, as read at start."""

    cert: bytes
    key: bytes = dataclasses.field(repr=False)
    cert_file: str
    key_file: str

    def grpc_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials([(self.key, self.cert)])

    def ssl_context(self) -> ssl.SSLContext:
        """A server context for the HTTP endpoints (TLS 1.2 and later)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _read(path: str, variable: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise SettingsError(f"{variable}: cannot read {path} ({exc.strerror})") from None


def load(tls: Tls) -> ServerTls | None:
    """The service's certificate and key, or None when TLS is not configured.

    Raises:
        SettingsError: a file cannot be read, or the pair is not a certificate and its key.
    """
    if not tls.enabled:
        return None
    loaded = ServerTls(
        cert=_read(tls.cert_file, "ACCOLADE_TLS_CERT_FILE"),
        key=_read(tls.key_file, "ACCOLADE_TLS_KEY_FILE"),
        cert_file=tls.cert_file,
        key_file=tls.key_file,
    )
    try:
        loaded.ssl_context()
    except ssl.SSLError as exc:
        raise SettingsError(
            "ACCOLADE_TLS_CERT_FILE, ACCOLADE_TLS_KEY_FILE: not a PEM certificate and its "
            f"private key ({exc.reason or exc})"
        ) from None
    return loaded


def channel_credentials(tls: Tls) -> grpc.ChannelCredentials | None:
    """Credentials for calling another service: None (plaintext) when this service is
    plaintext, else TLS trusting ACCOLADE_TLS_CA_FILE (or the system's CAs)."""
    if not tls.enabled:
        return None
    roots = _read(tls.ca_file, "ACCOLADE_TLS_CA_FILE") if tls.ca_file else None
    return grpc.ssl_channel_credentials(root_certificates=roots)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plaintext_warning(settings: Settings) -> str | None:
    """What to warn about at start, if the service takes bearer keys in plaintext on an
    address other hosts can reach."""
    if settings.tls.enabled or is_loopback(settings.grpc_host):
        return None
    return (
        f"listening in plaintext on {settings.grpc_host}: API keys and session tokens cross "
        "the network readable; set ACCOLADE_TLS_CERT_FILE and ACCOLADE_TLS_KEY_FILE, or "
        "terminate TLS in front of the service"
    )
