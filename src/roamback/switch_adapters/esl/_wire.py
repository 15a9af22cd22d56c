"""ESL framing without I/O: bytes in, whole messages out; commands out as bytes.

FreeSWITCH's event socket speaks in header blocks (``Name: value`` lines, a blank line ends the block);
a ``Content-Length`` header means that many bytes of body follow. Replies (``command/reply``,
``api/response``) come back in the order the commands were sent, with events (``text/event-json``)
interleaved anywhere between them, so the parser only frames and the client matches replies to commands.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class EslProtocolError(Exception):
    """The peer sent something that is not ESL framing: the connection cannot be trusted any further."""


@dataclass(frozen=True, slots=True)
class EslMessage:
    headers: dict[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def reply_text(self) -> str:
        """What a command said: ``Reply-Text`` of a command/reply, the body of an api/response."""
        if self.content_type == "api/response":
            return self.body.decode("utf-8", "replace").strip()
        return self.headers.get("Reply-Text", "").strip()

    @property
    def ok(self) -> bool:
        return not self.reply_text.startswith("-")  # "-ERR ...", "-USAGE: ..."


_MAX_HEADER_BYTES = 64 * 1024
_MAX_BODY_BYTES = 16 * 1024 * 1024  # a `show channels` on a busy switch is large, but not this large


@dataclass(slots=True)
class EslParser:
    """Feed bytes with ``receive_data``; it returns every message they completed, in order."""

    _buffer: bytearray = field(default_factory=bytearray)
    _pending: dict[str, str] | None = None  # headers of a message still waiting for its body
    _length: int = 0

    def receive_data(self, data: bytes) -> list[EslMessage]:
        self._buffer += data
        messages: list[EslMessage] = []
        while True:
            if self._pending is None:
                end = self._buffer.find(b"\n\n")
                if end < 0:
                    if len(self._buffer) > _MAX_HEADER_BYTES:
                        raise EslProtocolError("header block too long")
                    return messages
                block, self._buffer = bytes(self._buffer[:end]), self._buffer[end + 2:]
                if not block.strip():
                    continue  # stray blank lines between messages
                self._pending = _headers(block.strip(b"\r\n"))
                self._length = _content_length(self._pending)
            if len(self._buffer) < self._length:
                return messages
            body, self._buffer = bytes(self._buffer[:self._length]), self._buffer[self._length:]
            messages.append(EslMessage(self._pending, body))
            self._pending = None


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw in block.decode("utf-8", "replace").split("\n"):
        line = raw.rstrip("\r")
        name, sep, value = line.partition(":")
        if not sep or not name:
            raise EslProtocolError(f"not a header line: {line[:80]!r}")
        headers[name.strip()] = value.strip()
    return headers


def _content_length(headers: dict[str, str]) -> int:
    value = headers.get("Content-Length")
    if value is None:
        return 0
    if not value.isdigit() or int(value) > _MAX_BODY_BYTES:
        raise EslProtocolError(f"bad Content-Length {value!r}")
    return int(value)


def encode_command(line: str, headers: dict[str, str] | None = None) -> bytes:
    """One command: its line, its headers, a blank line.

    FreeSWITCH ends a command at the first blank line, so a newline inside any part would smuggle in a
    second command: refused here, whatever the caller validated before.
    """
    parts = [line, *(f"{name}: {value}" for name, value in (headers or {}).items())]
    if any("\n" in part or "\r" in part for part in parts) or not line.strip():
        # The line is not quoted back: it may be ``auth <password>``.
        raise ValueError("ESL command would break framing: it contains a newline or is empty")
    return ("\n".join(parts) + "\n\n").encode()
