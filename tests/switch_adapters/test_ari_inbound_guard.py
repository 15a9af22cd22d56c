"""The ARI event socket is shared by every live call: an inbound event that breaks a trigger listener, or
names its channel with a non-string id, is logged and dropped, never raised into the WebSocket."""

from __future__ import annotations

from twisted.internet import reactor
from twisted.logger import capturedLogs

from roamback.switch_adapters.ari import AriSettings, AriSwitch


def test_a_failing_inbound_listener_or_a_strange_id_does_not_escape() -> None:
    switch = AriSwitch(reactor, AriSettings())
    seen: list[dict] = []

    def broken(message: dict) -> None:
        seen.append(message)
        raise KeyError("id")

    switch.subscribe_inbound(broken)
    with capturedLogs() as logged:
        switch.event({"type": "StasisStart", "channel": {"name": "PJSIP/trunk-1"}})
        switch.event({"type": "StasisStart", "channel": {"id": 12345}})
    assert len(seen) == 2
    assert sum("inbound ARI event" in str(event.get("log_format")) for event in logged) == 2
