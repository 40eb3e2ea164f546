"""Ports for servers a test or the bench starts."""

from __future__ import annotations

import socket

from accolade.local import embedded


def test_free_ports_stay_out_of_the_ephemeral_range_and_are_never_handed_out_twice() -> None:
    ports = [embedded.free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    # Outgoing connections take their local ports from the ephemeral range; a port
    # handed out from it could be taken before its server binds it.
    assert all(1024 <= p < embedded._ephemeral_low() for p in ports)
    for port in ports[:10]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # nobody listens there
