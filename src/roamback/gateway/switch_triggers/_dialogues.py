"""What an inbound call to the service means, and the short dialogue that turns it into a trigger.

Free of Twisted and ARI, like the core: a call is the ``Call`` port (reject, answer, say, ask), the core is
the ``Core`` port, and every rule lives in one plain coroutine per kind of number. The rules that make
these doors safe against spoofed caller IDs:

- leg A is never a number the caller names without proof: the subscriber's own MSISDN, a DID's
  configured number, or (IVR) a number the core checks against the subscriber's registered ones;
- an unknown caller ID is rejected busy before anything else: no request, so no refusal SMS that a
  spoofer could aim at someone else's phone, and no answered call, so nobody is charged;
- the caller hears the outcome only once the core has stored the request.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Protocol

from ...core import numbers
from ...core.model import CallbackTrigger, Channel
from ._accounts import TriggerAccounts
from ._digits import Entry, EntryRules
from ._settings import PersonalDid, TriggerSettings

log = logging.getLogger(__name__)


class Reject(StrEnum):
    """ARI hangup reasons (``DELETE /channels/{id}?reason=``) for a call that is never answered."""

    BUSY = "busy"  # SIP 486, Q.850 17: "request taken" (or silently refused), the caller pays nothing
    CONGESTION = "congestion"  # Q.850 34: the service could not take it, the caller should try again
    UNALLOCATED = "unallocated"  # Q.850 1: a number routed to us that we do not serve (a dialplan mistake)


class CallerGone(Exception):
    """The caller hung up (or the channel vanished): the dialogue stops where it is."""


class Call(Protocol):
    """One inbound call, as the ARI adapter presents it."""

    @property
    def channel_id(self) -> str: ...

    @property
    def caller_id(self) -> str: ...

    @property
    def dialled(self) -> str: ...

    async def reject(self, reason: Reject) -> None:
        """Hang up without answering."""
        ...

    async def answer(self) -> None: ...

    async def say(self, sound: str) -> None:
        """Play a prompt to its end."""
        ...

    async def ask(self, sound: str, rules: EntryRules) -> Entry:
        """Play a prompt and collect one entry; digits keyed during the prompt count."""
        ...

    async def hang_up(self) -> None: ...


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"  # the core stored a refusal; its reason goes to the subscriber by SMS


class CoreUnavailable(Exception):
    """The core could not store the request (database down): nothing was promised."""


class Core(Protocol):
    async def submit(self, trigger: CallbackTrigger) -> Outcome:
        """Return as soon as the core's decision on ``trigger`` is stored; raise CoreUnavailable if none is."""
        ...


PinCheck = Callable[[str, str], Awaitable[bool]]  # (pin, stored hash) -> matches


class Dialogues:
    def __init__(
        self, *, settings: TriggerSettings, accounts: TriggerAccounts, core: Core, check_pin: PinCheck,
        home_region: str,
    ) -> None:
        self._settings = settings
        self._sounds = settings.sounds
        self._accounts = accounts
        self._core = core
        self._check_pin = check_pin
        self._home_region = home_region
        self._missed = frozenset(settings.missed_call_numbers)
        self._pin = frozenset(settings.pin_numbers)
        self._ivr = frozenset(settings.ivr_numbers)
        self._number_rules = EntryRules(settings.max_number_digits, settings.first_digit_seconds,
                                        settings.inter_digit_seconds)
        self._pin_rules = EntryRules(settings.max_pin_digits, settings.first_digit_seconds,
                                     settings.inter_digit_seconds)

    async def handle(self, call: Call) -> None:
        """Run the call to its end; CallerGone may escape (the adapter treats it as a normal end)."""
        dialled, caller = self._e164(call.dialled), self._e164(call.caller_id)
        if dialled in self._missed:
            await self._missed_call(call, caller)
        elif dialled in self._pin:
            await self._pin_login(call, caller)
        elif dialled in self._ivr:
            await self._ivr_request(call, caller)
        elif dialled and (did := await self._accounts.personal_did(dialled)) is not None:
            await self._personal_did(call, did)
        else:
            log.warning("Inbound call %s to %r, which is no trigger number: rejected", call.channel_id, call.dialled)
            await call.reject(Reject.UNALLOCATED)

    # -- unanswered: the caller pays nothing ------------------------------------------------------------

    async def _missed_call(self, call: Call, caller: str | None) -> None:
        msisdn = await self._accounts.caller(caller) if caller else None
        destination = await self._accounts.default_destination(msisdn) if msisdn else None
        if msisdn is None or destination is None:
            log.info("Missed call %s from an unknown caller or one without a default destination: no request",
                     call.channel_id)
            await call.reject(Reject.BUSY)
            return
        await self._unanswered(call, CallbackTrigger(
            channel=Channel.MISSED_CALL, requester=msisdn, destination=destination, reference=call.channel_id))

    async def _personal_did(self, call: Call, did: PersonalDid) -> None:
        destination = did.destination or await self._accounts.default_destination(did.subscriber)
        if destination is None:
            log.info("Missed call %s to a personal DID without a destination: no request", call.channel_id)
            await call.reject(Reject.BUSY)
            return
        await self._unanswered(call, CallbackTrigger(
            channel=Channel.MISSED_CALL, requester=did.subscriber, callback_number=did.callback_number,
            destination=destination, reference=call.channel_id))

    async def _unanswered(self, call: Call, trigger: CallbackTrigger) -> None:
        """Busy once the request is stored (accepted or refused: the SMS tells which); congestion if the
        core could not store it, so the subscriber knows to try again."""
        try:
            await self._core.submit(trigger)
        except CoreUnavailable:
            await call.reject(Reject.CONGESTION)
            return
        await call.reject(Reject.BUSY)

    # -- answered dialogues -----------------------------------------------------------------------------

    async def _pin_login(self, call: Call, caller: str | None) -> None:
        known = await self._accounts.caller(caller) if caller else None
        if known is not None:  # a recognised caller ID never needs the PIN, nor pays for the call
            await self._missed_call(call, caller)
            return
        await call.answer()
        msisdn = await self._login(call)
        if msisdn is None:
            await call.hang_up()
            return
        if caller:
            await self._accounts.remember_caller(caller, msisdn)
        destination = await self._accounts.default_destination(msisdn)
        if destination is None:
            destination = await self._ask_number(call, self._sounds.enter_destination, empty_ok=False)
            if destination is None:
                await call.hang_up()
                return
        await self._answered(call, CallbackTrigger(
            channel=Channel.IVR, requester=msisdn, destination=destination, reference=call.channel_id))

    async def _login(self, call: Call) -> str | None:
        """The subscriber whose number and PIN the caller keyed in, or None after too many failures.

        Every failure sounds the same, whether the number is unknown, has no PIN, is locked or the PIN is
        wrong, so the dialogue does not tell a prober which numbers are subscribers.
        """
        for _ in range(self._settings.max_attempts):
            number = await call.ask(self._sounds.enter_msisdn, self._number_rules)
            pin = await call.ask(self._sounds.enter_pin, self._pin_rules)
            msisdn = self._e164(number.digits)
            if msisdn and await self._pin_matches(call, msisdn, pin.digits):
                return msisdn
            log.info("PIN login failed on %s", call.channel_id)
            await call.say(self._sounds.wrong_pin)
        await call.say(self._sounds.goodbye)
        return None

    async def _pin_matches(self, call: Call, msisdn: str, pin: str) -> bool:
        """Check the PIN unless wrong PINs on earlier calls locked the account: the per-call attempt limit
        alone would let a prober simply call again. A locked account fails even with the right PIN."""
        if await self._accounts.pin_locked(msisdn):
            return False
        stored = await self._accounts.pin_hash(msisdn)
        if not stored:
            return False
        if pin and await self._check_pin(pin, stored):
            await self._accounts.pin_succeeded(msisdn)
            return True
        locked_until = await self._accounts.pin_failed(msisdn)
        if locked_until is not None:
            log.warning("PIN login to %s locked until %s after repeated wrong PINs (last on %s)", msisdn,
                        locked_until.isoformat(), call.channel_id)
        return False

    async def _ivr_request(self, call: Call, caller: str | None) -> None:
        msisdn = await self._accounts.caller(caller) if caller else None
        if msisdn is None:
            log.info("IVR call %s from an unknown caller: rejected unanswered", call.channel_id)
            await call.reject(Reject.BUSY)
            return
        await call.answer()
        callback = await self._ask_number(call, self._sounds.enter_callback_number, empty_ok=True)
        destination = None if callback is None else await self._ask_number(
            call, self._sounds.enter_destination, empty_ok=False)
        if callback is None or destination is None:
            await call.hang_up()
            return
        await self._answered(call, CallbackTrigger(
            channel=Channel.IVR, requester=msisdn, callback_number=callback or None, destination=destination,
            reference=call.channel_id))

    async def _ask_number(self, call: Call, sound: str, *, empty_ok: bool) -> str | None:
        """The digits of a dialable number as keyed ("" for a bare '#' where that means "this phone"),
        or None after too many attempts. The core validates again; this only spares a wasted request."""
        for _ in range(self._settings.max_attempts):
            entry = await call.ask(sound, self._number_rules)
            if entry.digits == "" and not entry.silent and empty_ok:
                return ""
            if entry.digits and self._e164(entry.digits):
                return entry.digits
            if not entry.silent:
                await call.say(self._sounds.invalid_number)
        await call.say(self._sounds.goodbye)
        return None

    async def _answered(self, call: Call, trigger: CallbackTrigger) -> None:
        try:
            outcome = await self._core.submit(trigger)
        except CoreUnavailable:
            await call.say(self._sounds.unavailable)
        else:
            await call.say(self._sounds.accepted if outcome is Outcome.ACCEPTED else self._sounds.refused)
        await call.hang_up()

    def _e164(self, raw: str) -> str | None:
        try:
            return numbers.normalise(raw, self._home_region)
        except numbers.InvalidNumber:
            return None
