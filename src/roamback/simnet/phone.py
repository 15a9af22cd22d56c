"""``roamback phone``'s handset logic, without I/O: typed lines and control messages in, requests and text out.

Typed lines are taken one at a time, and the next waits until the network has answered the previous one
(and, after a dial or an answer, until the next USSD screen or the end of the dialogue). A person never
notices; a program piping ``*123#``, ``1``, ``2`` gets each answer applied to the screen it was meant for.
After the end of input the phone finishes once nothing is awaited: the last screen has arrived and every
SMS sent has been taken (or given up) by the service.
"""

from __future__ import annotations

from collections import deque
from typing import Any

HELP = (
    "commands: *123#  or  *123*447700900456#  dial USSD (while a menu is open, a line is the answer)",
    "          sms <to> <text>                 send an SMS",
    "          inbox                           list the SMS received",
)


class Phone:
    def __init__(self, msisdn: str) -> None:
        self.msisdn = msisdn
        self.exit_code: int | None = None
        """Set once the phone is done: 0 after the end of input, 1 when the network refused or went away."""
        self._typed: deque[str] = deque()
        self._requests: list[dict[str, Any]] = [{"op": "attach", "msisdn": msisdn}]
        self._output: list[str] = []
        self._in_flight: str | None = "attach"
        self._awaiting_screen = False
        self._screen_open = False
        self._sms_pending: set[int] = set()
        self._input_ended = False

    # -- what the I/O layer feeds in ------------------------------------------------------------------------

    def typed(self, line: str) -> None:
        self._typed.append(line.rstrip("\r\n"))
        self._advance()

    def input_ended(self) -> None:
        self._input_ended = True
        self._advance()

    def connection_lost(self) -> None:
        if self.exit_code is None:
            self._print("error: the connection to simnet was lost")
            self.exit_code = 1

    def received(self, message: dict[str, Any]) -> None:
        """One JSON object from the control API: a response or an event."""
        if "event" in message:
            self._event(message)
        else:
            self._response(message)
        self._advance()

    # -- what the I/O layer takes out -----------------------------------------------------------------------

    def requests_to_send(self) -> list[dict[str, Any]]:
        requests, self._requests = self._requests, []
        return requests

    def lines_to_print(self) -> list[str]:
        output, self._output = self._output, []
        return output

    # -- internals -------------------------------------------------------------------------------------------

    def _advance(self) -> None:
        """Take typed lines while nothing is awaited; finish after the end of input."""
        while self.exit_code is None and self._in_flight is None and not self._awaiting_screen:
            if self._typed:
                self._command(self._typed.popleft())
                continue
            if self._input_ended and not self._sms_pending:
                if self._screen_open:
                    self._print("[USSD] (input ended with the menu unanswered)")
                self.exit_code = 0
            return

    def _command(self, line: str) -> None:
        text = line.strip()
        if self._screen_open:
            self._send({"op": "answer", "text": line}, awaits_screen=True)
            self._screen_open = False
        elif not text:
            return
        elif text[0] in "*#" and text.endswith("#"):
            self._send({"op": "dial", "text": text}, awaits_screen=True)
        elif text.split()[0].lower() == "sms":
            parts = text.split(None, 2)
            if len(parts) < 3:
                self._print("error: usage: sms <to> <text>")
                return
            self._send({"op": "sms", "to": parts[1], "text": parts[2]})
        elif text.lower() == "inbox":
            self._send({"op": "inbox"})
        elif text.lower() in ("help", "?"):
            self._output.extend(HELP)
        else:
            self._print(f"error: unknown command {text!r} (type help)")

    def _send(self, request: dict[str, Any], *, awaits_screen: bool = False) -> None:
        self._requests.append(request)
        self._in_flight = request["op"]
        self._awaiting_screen = awaits_screen

    def _response(self, message: dict[str, Any]) -> None:
        op, self._in_flight = self._in_flight, None
        if not message.get("ok"):
            self._print(f"error: {message.get('error', 'refused')}")
            self._awaiting_screen = False
            if op == "attach":
                self.exit_code = 1
            return
        if op == "attach":
            self._print(f"phone {message['msisdn']} attached ({message['inbox']} SMS in inbox)")
        elif op == "sms":
            self._sms_pending.add(message["ref"])
            self._print(f"[SMS ref {message['ref']}] sent to the network")
        elif op == "inbox":
            messages = message["messages"]
            self._print(f"inbox: {len(messages)} message(s)")
            for item in messages:
                self._print_text(f"  #{item['id']} from {item['from']} at {item['at']}: ", item["text"])

    def _event(self, message: dict[str, Any]) -> None:
        kind = message["event"]
        if kind == "sms":
            self._print_text(f"[SMS from {message['from']} at {message['at']}] ", message["text"])
        elif kind == "ussd":
            self._awaiting_screen = False
            self._screen_open = bool(message["open"])
            for line in message["text"].splitlines() or [""]:
                self._print(f"[USSD] {line}")
            self._print("[USSD] reply>" if self._screen_open else "[USSD] (dialogue ended)")
        elif kind == "ussd_closed":
            self._awaiting_screen = self._screen_open = False
            self._print(f"[USSD] (dialogue ended: {message['reason']})")
        elif kind == "sms_retry":
            status = _status(message["status"])
            self._print(f"[SMS ref {message['ref']}] service answered {status}, retrying in {message['delay']:g}s")
        elif kind == "sms_sent":
            self._sms_pending.discard(message["ref"])
            if message["ok"]:
                self._print(f"[SMS ref {message['ref']}] taken by the service (attempt {message['attempts']})")
            else:
                self._print(f"[SMS ref {message['ref']}] given up after {message['attempts']} attempt(s): "
                            f"{_status(message['status'])}")

    def _print(self, line: str) -> None:
        self._output.append(line)

    def _print_text(self, prefix: str, text: str) -> None:
        first, *rest = text.splitlines() or [""]
        self._print(prefix + first)
        self._output.extend("    " + line for line in rest)


def _status(status: int | None) -> str:
    return "nothing (no bind or no answer)" if status is None else f"status {status:#04x}"
