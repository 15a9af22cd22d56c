"""Turning ``RoSettings`` into a running ``DiameterNode``: identity, peers, routes, timers."""

from __future__ import annotations

from typing import Any

from .peer import LocalIdentity, PeerTimers
from .routing import PeerRoute
from .settings import DiameterPeerSettings, RoSettings
from .twisted_peer import DiameterNode, PeerEndpoint


def build_node(settings: RoSettings, reactor: Any) -> DiameterNode:
    identity = LocalIdentity(
        origin_host=settings.origin_host, origin_realm=settings.origin_realm,
        host_ip_addresses=tuple(settings.host_ip_addresses), vendor_id=settings.vendor_id,
        product_name=settings.product_name, origin_state_id=int(reactor.seconds()) & 0xFFFFFFFF,
    )
    peers = [
        PeerEndpoint(
            route=PeerRoute(name=peer.name, realms=frozenset({peer.realm}), priority=peer.priority, relay=peer.relay),
            endpoint=endpoint_string(peer),
        )
        for peer in settings.peers
    ]
    timers = PeerTimers(watchdog=settings.tw_seconds, cea_timeout=settings.tx_seconds, dpa_timeout=settings.tx_seconds)
    return DiameterNode(reactor, identity, peers, timers=timers, tx=settings.tx_seconds, tc=settings.tc_seconds,
                        trace=settings.trace_messages)


def endpoint_string(peer: DiameterPeerSettings) -> str:
    """A Twisted client endpoint string; the colons of an IPv6 literal are escaped (connectTCP takes it)."""
    host = peer.host.replace(":", "\\:")
    return f"tcp:host={host}:port={peer.port}:timeout={peer.connect_timeout_seconds}"
