"""The actions a menu file may name, what each needs from the dialogue and what it may answer.

The loader checks a menu against this table (unknown action, an outcome that routes nowhere, a value no
screen collects), so an operator's typo stops start-up instead of reaching a subscriber. Each action is a
small coroutine over the ``MenuActions`` port; the engine turns its ``Outcome`` into a closing text, a
re-prompt with an error line, or a move to the screen the menu file maps the outcome to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ..core.messages import MessageCatalog, format_money
from ..core.model import Subscriber
from .actions import Confirmation, MenuActions, Registration


class Kind(StrEnum):
    END = "end"  # close the dialogue with the outcome's text (unless the menu routes it to a screen)
    RETRY = "retry"  # stay on the screen, its error line saying why
    ROUTE = "route"  # no text: the menu file must say which screen comes next


@dataclass(frozen=True, slots=True)
class OutcomeSpec:
    kind: Kind
    key: str | None = None  # menu text key; None for END means a finished text from the core


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    text: str | None = None  # a finished text (the core's wording), fitted to one page by the engine
    params: dict[str, str] = field(default_factory=dict)  # for the outcome's menu text
    values: dict[str, str] = field(default_factory=dict)  # saved in the dialogue for later screens
    language: str | None = None  # the dialogue continues in this language (after a language change)


@dataclass(frozen=True, slots=True)
class ActionContext:
    subscriber: Subscriber
    language: str
    values: Mapping[str, str]
    args: Mapping[str, str]
    port: MenuActions
    catalog: MessageCatalog
    max_phonebook_entries: int

    @property
    def msisdn(self) -> str:
        return self.subscriber.msisdn


ActionFn = Callable[[ActionContext], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class Action:
    run: ActionFn
    outcomes: Mapping[str, OutcomeSpec]
    needs: tuple[str, ...] = ()  # dialogue values the action reads
    args: tuple[str, ...] = ()  # arguments the menu file must give


async def _request_callback(ctx: ActionContext) -> Outcome:
    text = await ctx.port.request_callback(ctx.msisdn, ctx.values["destination"], ctx.values.get("callback"),
                                           ctx.language)
    return Outcome("done", text)


async def _call_phonebook_entry(ctx: ActionContext) -> Outcome:
    position = int(ctx.values["position"])
    entry = next((e for e in await ctx.port.phonebook(ctx.msisdn) if e.position == position), None)
    if entry is None:
        return Outcome("not_found", params={"position": str(position)})
    text = await ctx.port.request_callback(ctx.msisdn, entry.number, ctx.values.get("callback"), ctx.language)
    return Outcome("done", text)


async def _redial_last(ctx: ActionContext) -> Outcome:
    last = await ctx.port.last_destination(ctx.msisdn)
    if last is None:
        return Outcome("none")
    return Outcome("done", await ctx.port.request_callback(ctx.msisdn, last, None, ctx.language))


async def _balance(ctx: ActionContext) -> Outcome:
    balance = await ctx.port.balance(ctx.subscriber)
    if balance is None:
        return Outcome("unavailable")
    amount = format_money(balance.available_minor, balance.currency, ctx.language)
    return Outcome("done", ctx.catalog.render("balance", ctx.language, balance=amount))


async def _help(ctx: ActionContext) -> Outcome:
    return Outcome("done", ctx.catalog.render("help", ctx.language))


async def _add_phonebook_entry(ctx: ActionContext) -> Outcome:
    position = await ctx.port.add_phonebook_entry(ctx.msisdn, ctx.values["name"], ctx.values["number"],
                                                  ctx.max_phonebook_entries)
    return Outcome("full") if position is None else Outcome("added", params={"position": str(position)})


async def _remove_phonebook_entry(ctx: ActionContext) -> Outcome:
    position = ctx.values["position"]
    removed = await ctx.port.remove_phonebook_entry(ctx.msisdn, int(position))
    return Outcome("removed" if removed else "not_found", params={"position": position})


async def _register_number(ctx: ActionContext) -> Outcome:
    number = ctx.values["number"]
    if number == ctx.msisdn:
        return Outcome(Registration.OWN_NUMBER.value, params={"number": number})
    result = await ctx.port.register_number(ctx.subscriber, number, ctx.language)
    return Outcome(result.value, params={"number": number}, values={"pending_number": number})


async def _confirm_number(ctx: ActionContext) -> Outcome:
    result = await ctx.port.confirm_number(ctx.msisdn, ctx.values["code"])
    if result.outcome is Confirmation.CONFIRMED:
        return Outcome("confirmed", params={"number": result.number or ""})
    return Outcome(result.outcome.value)


async def _choose_language(ctx: ActionContext) -> Outcome:
    language = ctx.args["language"]
    await ctx.port.set_language(ctx.msisdn, language)
    return Outcome("done", language=language)


async def _start_pin_change(ctx: ActionContext) -> Outcome:
    return Outcome("has_pin" if await ctx.port.has_pin(ctx.msisdn) else "no_pin")


async def _verify_pin(ctx: ActionContext) -> Outcome:
    return Outcome("ok" if await ctx.port.verify_pin(ctx.msisdn, ctx.values["pin_current"]) else "wrong")


async def _change_pin(ctx: ActionContext) -> Outcome:
    if ctx.values["pin_new"] != ctx.values["pin_repeat"]:
        return Outcome("mismatch")
    await ctx.port.set_pin(ctx.msisdn, ctx.values["pin_new"])
    return Outcome("changed")


E, R, X = Kind.END, Kind.RETRY, Kind.ROUTE
ACTIONS: dict[str, Action] = {
    "request_callback": Action(_request_callback, {"done": OutcomeSpec(E)}, needs=("destination",)),
    "call_phonebook_entry": Action(_call_phonebook_entry, {
        "done": OutcomeSpec(E), "not_found": OutcomeSpec(R, "phonebook.not_found")}, needs=("position",)),
    "redial_last": Action(_redial_last, {"done": OutcomeSpec(E), "none": OutcomeSpec(E, "redial.none")}),
    "balance": Action(_balance, {"done": OutcomeSpec(E), "unavailable": OutcomeSpec(E, "balance.unavailable")}),
    "help": Action(_help, {"done": OutcomeSpec(E)}),
    "add_phonebook_entry": Action(_add_phonebook_entry, {
        "added": OutcomeSpec(E, "phonebook.added"), "full": OutcomeSpec(E, "phonebook.full")},
        needs=("name", "number")),
    "remove_phonebook_entry": Action(_remove_phonebook_entry, {
        "removed": OutcomeSpec(E, "phonebook.removed"), "not_found": OutcomeSpec(R, "phonebook.not_found")},
        needs=("position",)),
    "register_number": Action(_register_number, {
        "code_sent": OutcomeSpec(E, "number.code_sent"), "pending": OutcomeSpec(E, "number.pending"),
        "already": OutcomeSpec(E, "number.already"), "own_number": OutcomeSpec(E, "number.own")},
        needs=("number",)),
    "confirm_number": Action(_confirm_number, {
        "confirmed": OutcomeSpec(E, "number.confirmed"), "wrong": OutcomeSpec(R, "number.wrong_code"),
        "no_code": OutcomeSpec(E, "number.no_code")}, needs=("code",)),
    "choose_language": Action(_choose_language, {"done": OutcomeSpec(E, "language.set")}, args=("language",)),
    "start_pin_change": Action(_start_pin_change, {"has_pin": OutcomeSpec(X), "no_pin": OutcomeSpec(X)}),
    "verify_pin": Action(_verify_pin, {"ok": OutcomeSpec(X), "wrong": OutcomeSpec(R, "pin.wrong")},
                         needs=("pin_current",)),
    "change_pin": Action(_change_pin, {"changed": OutcomeSpec(E, "pin.changed"),
                                       "mismatch": OutcomeSpec(R, "pin.mismatch")}, needs=("pin_new", "pin_repeat")),
}
# Values that a one-shot dial or an action (rather than a screen) puts in the dialogue.
PROVIDED_VALUES = frozenset({"pending_number"})
