"""`roamback demo`: the whole service on embedded defaults, asked for four call-backs from the roamers' phones.

It starts simnet (the simulated operator network: an SMSC and a USSD centre) in this process on loopback
ports, then the real service (SQLite in a scratch directory, the built-in ledger, the simulated switch)
with an SMPP link bound to it. The roamers' handsets, attached through simnet's control API, ask for the
call-backs as they would abroad: alice dials the one-shot USSD string, bruno and carla text ``CB <number>``
to the service's short code, and dmitri makes a missed call to the access number on the simulated switch
(rejected busy, so it costs him nothing; he is called back to his default destination). Every persisted
transition is printed as it happens, with what each handset sees; then the CDRs and the SMS notices as
they sit in each handset's inbox, with the delivery receipt the service stored for each. It exits 0 only
if each call-back ended the way the scenario says it must and each roamer got every text the service
sent, confirmed by a receipt.

With ``--charging diameter`` simnet's OCS is started too and the service charges over real Diameter Ro on
loopback (CCR-I before leg A, CCR-T with each leg's seconds) instead of with the built-in ledger; the OCS
holds the same demo accounts, so the outcomes are the same and its balances are printed at the end.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TextIO

import sqlalchemy as sa

from .app import Components, RoambackService
from .config import Config
from .core.model import CallbackRequest, Transition
from .demo_data import DEMO_SUBSCRIBERS
from .demo_network import LINK_NAME, Handset, attach, describe_event, simnet_config, smpp_link
from .simnet import RunningSimnet, start_simnet
from .simnet.ocs import OcsSettings, RunningOcs, start_ocs
from .storage.schema import call_legs, notice_outbox
from .switch_adapters.simulated import SimulatedSwitch

SPEED = 10.0
DEFAULT_SHORT_CODE = "1234"
DESTINATION = "4915112345678"
BUSY_DESTINATION = "004915100001111"
ACCESS_NUMBER = "+33170000123"  # a missed call to it from a subscriber's phone is a request


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    channel: str  # "ussd": dial ``text`` with the service code in it; "sms": text it to the short code;
    # "call": call the number ``text`` on the switch
    text: str
    expect_state: str
    expect_reason: str | None
    expect_sms: int
    """Notices the roamer must find in the handset's inbox, each confirmed by a delivery receipt."""

    @property
    def msisdn(self) -> str:
        return DEMO_SUBSCRIBERS[self.name]


def scenarios(service_code: str) -> tuple[Scenario, ...]:
    return (
        Scenario("alice", "completed", "ussd", f"*{service_code}*{DESTINATION}#", "completed", None, 1),
        Scenario("bruno", "no credit", "sms", f"CB {DESTINATION}", "refused", "no_credit", 1),
        Scenario("carla", "B busy", "sms", f"CB {BUSY_DESTINATION}", "failed", "b_busy", 2),
        Scenario("dmitri", "missed call", "call", ACCESS_NUMBER, "completed", None, 1),
    )


def demo_config(config: Config, workdir: str, link: dict[str, Any], short_code: str,
                ocs: RunningOcs | None = None) -> Config:
    """The user's configuration with a scratch database, SMPP to the demo's simnet and a faster clock.

    The HTTP API stays closed: every request comes from a handset, through the network. The switch is the
    simulated one, taking calls to the demo's access number.
    """
    charging = config.charging
    if ocs is not None:
        charging = charging.model_copy(update={"backend": "diameter", "diameter": ocs.ro_settings(
            origin_host="roamback.demo.test", origin_realm="demo.test")})
    return config.model_copy(update={
        "charging": charging,
        "database": config.database.model_copy(update={"url": f"sqlite:///{workdir}/demo.sqlite"}),
        "api": config.api.model_copy(update={"enabled": False}),
        "metrics": config.metrics.model_copy(update={"listen": "tcp:0:interface=127.0.0.1"}),
        "switch": config.switch.model_copy(update={
            "adapter": "simulated",
            "simulated": config.switch.simulated.model_copy(update={"speed": SPEED}),
        }),
        "triggers": config.triggers.model_copy(update={"missed_call_numbers": [ACCESS_NUMBER]}),
        "outbox": config.outbox.model_copy(update={"poll_seconds": 0.1}),
        "smpp": type(config.smpp)(links=[link]),
        "sms": config.sms.model_copy(update={"source_addr": short_code}),
    })


class Printer:
    """Prints transitions and handset events on one time line; remembers each roamer's request."""

    def __init__(self, out: TextIO, labels: dict[str, str]) -> None:
        self.out = out
        self.labels = labels
        self.started = time.monotonic()
        self.requests: dict[str, str] = {}  # requester -> request id

    def __call__(self, request: CallbackRequest, transition: Transition) -> None:
        self.requests.setdefault(request.requester, request.id)
        extra = f" ({transition.reason})" if transition.reason else ""
        if transition.target.value == "reserved":
            extra = f" (max talk {request.max_talk_seconds}s)"
        self._line(self.labels.get(request.requester, request.requester), f"{transition.target.value}{extra}")

    def handset(self, name: str, text: str) -> None:
        self._line(f"{name}'s phone", f"| {text}")

    def _line(self, who: str, text: str) -> None:
        self.out.write(f"[{time.monotonic() - self.started:6.2f}s] {who:<14} {text}\n")


async def _wait_until(reactor: Any, condition: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    from twisted.internet import task

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return True
        await task.deferLater(reactor, 0.05, lambda: None)
    return False


async def _ask(reactor: Any, parts: Components, scenario: Scenario, handset: Handset, short_code: str) -> bool:
    """What the roamer does on the phone; waits until the network says the service took it."""
    if scenario.channel == "call":
        assert isinstance(parts.switch, SimulatedSwitch)  # demo_config chose it
        handset.call(parts.switch, scenario.text)

        async def ended() -> bool:
            return bool(handset.calls_ended())
        return await _wait_until(reactor, ended, 10)
    if scenario.channel == "ussd":
        answer = await handset.request(op="dial", text=scenario.text)

        async def seen() -> bool:
            return any(event["event"] in ("ussd", "ussd_closed") for event in handset.events)
    else:
        answer = await handset.request(op="sms", to=short_code, text=scenario.text)

        async def seen() -> bool:
            return any(event["event"] == "sms_sent" for event in handset.events)
    return bool(answer.get("ok")) and await _wait_until(reactor, seen, 10)


async def _notices(parts: Components, msisdn: str) -> list[Any]:
    def load(conn: sa.Connection) -> list[Any]:
        query = sa.select(notice_outbox).where(notice_outbox.c.msisdn == msisdn).order_by(notice_outbox.c.id)
        return list(conn.execute(query))

    return await parts.db.read(load)


async def _texts_ok(parts: Components, simnet: RunningSimnet, scenario: Scenario, handset: Handset) -> bool:
    """Every notice queued for the roamer was receipted as delivered and sits in the handset's inbox."""
    notices = await _notices(parts, scenario.msisdn)
    inbox = [message.text for message in simnet.network.handsets.get(scenario.msisdn).inbox]
    delivered = all(row.delivery_state == "DELIVRD" and row.body in inbox for row in notices)
    if scenario.channel == "call":  # rejected busy while it rang: the missed call cost nothing
        asked = [(e["cause"], e["answered"]) for e in handset.calls_ended()] == [("busy", False)]
    else:
        asked = bool(handset.ussd_screens()) if scenario.channel == "ussd" else handset.sms_taken() == 1
    return asked and delivered and len(notices) == scenario.expect_sms


async def _scenario_run(reactor: Any, service: RoambackService, simnet: RunningSimnet, short_code: str,
                        out: TextIO) -> bool:
    parts = await service.ready
    labels = {msisdn: name for name, msisdn in DEMO_SUBSCRIBERS.items()}
    printer = Printer(out, labels)
    parts.engine.add_listener(printer)
    link = parts.config.smpp.links[0]
    smpp_port, control_port = simnet.smpp_port.getHost().port, simnet.control_port.getHost().port
    messaging = service.messaging

    async def bound() -> bool:
        return messaging is not None and bool(messaging.links[LINK_NAME].bound)

    if not await _wait_until(reactor, bound, 5):
        out.write(f"demo FAILED: the SMPP link did not bind to simnet on 127.0.0.1:{smpp_port}\n")
        return False
    out.write(f"roamback demo: simnet SMSC + USSD centre on 127.0.0.1:{smpp_port} (SMPP, {link.system_id} bound "
              f"as transceiver), handsets on its control API 127.0.0.1:{control_port}; short code {short_code}; "
              f"simulated switch at {SPEED:g}x speed\n\n")
    plan = scenarios(parts.config.ussd.service_codes[0])
    handsets = {s.name: await attach(reactor, control_port, s.name, s.msisdn, printer.handset) for s in plan}
    try:
        ok = True
        for scenario in plan:
            verb = {"ussd": "dials", "call": "calls"}.get(scenario.channel, f"texts {short_code}:")
            printer.handset(scenario.name, f"{verb} {scenario.text}")
            ok = await _ask(reactor, parts, scenario, handsets[scenario.name], short_code) and ok

        async def settled() -> bool:
            for scenario in plan:
                request = await parts.engine.get(printer.requests.get(scenario.msisdn, ""))
                if request is None or not request.state.terminal:
                    return False
                if not await _texts_ok(parts, simnet, scenario, handsets[scenario.name]):
                    return False
            return True

        ok = await _wait_until(reactor, settled, 15) and ok
        ok = await _report(parts, simnet, plan, handsets, printer, out) and ok
    finally:
        for handset in handsets.values():
            handset.transport.loseConnection()
    return ok


async def _report(parts: Components, simnet: RunningSimnet, plan: tuple[Scenario, ...], handsets: dict[str, Handset],
                  printer: Printer, out: TextIO) -> bool:
    ok = True
    out.write("\nOutcome:\n")
    for scenario in plan:
        request = await parts.engine.get(printer.requests.get(scenario.msisdn, ""))
        state = request.state.value if request else "never received"
        reason = request.reason if request else None
        texts = await _texts_ok(parts, simnet, scenario, handsets[scenario.name])
        good = state == scenario.expect_state and reason == scenario.expect_reason and texts
        ok = ok and good
        out.write(f"  {'ok ' if good else 'BAD'} {scenario.label:<11} {state}{f' ({reason})' if reason else ''}"
                  f"{'' if texts else '  (texts missing or not receipted)'}\n")
    await _print_cdrs(parts, list(printer.requests.values()), out)
    out.write("\nWhat each roamer saw (calls and USSD screens, then the SMS in the handset's simnet inbox with the "
              "delivery receipt the service stored):\n")
    for scenario in plan:
        for call in handsets[scenario.name].calls_ended():
            out.write(f"  {scenario.name:<6} CALL     {describe_event(call)}\n")
        for screen in handsets[scenario.name].ussd_screens():
            out.write(f"  {scenario.name:<6} USSD     {screen}\n")
        receipts = {row.body: row.delivery_state or row.state for row in await _notices(parts, scenario.msisdn)}
        for message in simnet.network.handsets.get(scenario.msisdn).inbox:
            out.write(f"  {scenario.name:<6} {receipts.get(message.text, '?'):<8} {message.text}\n")
    return ok


async def _print_cdrs(parts: Components, ids: list[str], out: TextIO) -> None:
    def load(conn: sa.Connection) -> list[Any]:
        query = sa.select(call_legs).where(call_legs.c.request_id.in_(ids)).order_by(call_legs.c.id)
        return list(conn.execute(query))

    out.write("\nCDRs (one per leg attempt, answered or not):\n")
    out.write(f"  {'leg':<3} {'number':<15} {'answered':<9} {'bridged':<9} {'ended':<9} {'cause':<9} billed cost\n")
    for row in await parts.db.read(load):
        def hms(t: Any) -> str:
            return t.strftime("%H:%M:%S") if t else "-"

        out.write(f"  {row.leg:<3} {row.dialled:<15} {hms(row.answered_at):<9} {hms(row.bridged_at):<9} "
                  f"{hms(row.ended_at):<9} {row.cause or '-':<9} {row.billed_seconds:>5}s {row.cost_minor:>4}\n")


async def _main(reactor: Any, config: Config, out: TextIO, charging: str = "ledger") -> bool:
    password = secrets.token_hex(4)  # 8 characters: the most SMPP 3.4 allows
    short_code = config.sms.source_addr if config.sms.source_addr.isdigit() else DEFAULT_SHORT_CODE
    simnet = await start_simnet(simnet_config(config, password), reactor)
    ocs = start_ocs(OcsSettings(listen="127.0.0.1:0"), reactor) if charging == "diameter" else None
    if ocs is not None:
        out.write(f"simnet OCS {ocs.settings.origin_host} (Diameter Ro) on 127.0.0.1:{ocs.port}: the service "
                  "charges over Diameter\n")
    try:
        with tempfile.TemporaryDirectory(prefix="roamback-demo-") as workdir:
            link = smpp_link(simnet.smpp_port.getHost().port, password)
            service = RoambackService(demo_config(config, workdir, link, short_code, ocs), reactor)
            service.startService()
            await service.ready
            try:
                ok = await _scenario_run(reactor, service, simnet, short_code, out)
            finally:
                await service.stopService()
            if ocs is not None:  # the service code only shapes alice's text, not who asked
                _print_ocs(ocs, [s.name for s in scenarios(service_code="")], out)
            return ok
    finally:
        if ocs is not None:
            await ocs.stop()
        await simnet.stop()


def _print_ocs(ocs: RunningOcs, names: list[str], out: TextIO) -> None:
    out.write("\nOCS accounts after the CCR-T of each session (minor units):\n")
    for name in names:
        account = ocs.account(DEMO_SUBSCRIBERS[name])
        if account is not None:
            out.write(f"  {name:<6} balance {account.balance_minor:>6}  reserved {account.reserved_minor}\n")


def run(config: Config, args: Any, out: TextIO = sys.stdout) -> int:
    from twisted.internet import defer, task

    result: list[bool] = []

    async def wrapper(r: Any) -> None:
        result.append(await _main(r, config, out, getattr(args, "charging", "ledger")))

    try:
        task.react(lambda r: defer.Deferred.fromCoroutine(wrapper(r)))
    except SystemExit as exc:  # react() always exits; the outcome is in ``result``
        if exc.code not in (0, None):
            return int(exc.code)
    ok = bool(result and result[0])
    out.write(f"\n{'demo finished: every call-back ended as expected' if ok else 'demo FAILED'}\n")
    return 0 if ok else 1
