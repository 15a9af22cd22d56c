"""Log output for operators: JSON lines for collectors or plain text, with personal data masked.

Logs leave the secure perimeter (collectors, tickets, vendors' support), so redaction happens once, in
an observer every event passes through before any output: secrets (fields named like a password, PIN,
key or token) are always replaced, and phone numbers are masked when ``mask_msisdn`` is on (the
default), both in the event's own fields and in its formatted text, since a number can reach the text
through the format string itself. Nothing downstream sees the original event.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    formatEvent,
    globalLogBeginner,
)
from zope.interface import implementer

REDACTED = "***"
_SECRET_WORDS = frozenset({
    "password", "passwd", "pin", "secret", "key", "keys", "apikey", "token", "authorization",
    "credential", "credentials", "cookie",
})
# Digit runs inside identifiers (UUIDs, hex message ids) are not phone numbers: leave them readable.
_MSISDN = re.compile(r"(?<![0-9A-Za-z-])(\+?)(\d{7,})(?![0-9A-Za-z-])")
_PLAIN = (str, int, float, bool, type(None))
_STDLIB_LEVELS = {logging.DEBUG: LogLevel.debug, logging.INFO: LogLevel.info, logging.WARNING: LogLevel.warn,
                  logging.ERROR: LogLevel.error, logging.CRITICAL: LogLevel.critical}


def mask_msisdn(text: str) -> str:
    """Keep the first 4 and last 2 digits of every run of 7+ digits: enough to tell numbers apart in an
    incident, not enough to call anyone. The mask has a fixed width so the length does not leak."""
    return _MSISDN.sub(lambda m: f"{m[1]}{m[2][:4]}****{m[2][-2:]}", text)


def is_secret(name: str) -> bool:
    """True for field names such as ``password``, ``pin``, ``api_key``, ``apiKey``, ``X-Auth-Token``."""
    words = re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
    parts = set(re.split(r"[^a-z0-9]+", words))
    return bool(parts & _SECRET_WORDS) or any(word in words for word in ("password", "secret", "token"))


def _without_secrets(name: str, value: Any) -> Any:
    if is_secret(name):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: _without_secrets(str(k), v) for k, v in value.items()}
    return value


def _plain(value: Any, mask: bool) -> Any:
    """A JSON-safe copy; objects become their text, so their str() is masked too."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v, mask) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, mask) for v in value]
    if not isinstance(value, _PLAIN):
        value = str(value)
    if isinstance(value, str) and mask:
        return mask_msisdn(value)
    return value


@implementer(ILogObserver)
class RedactingObserver:
    """Hands ``observer`` a copy of each event with secrets redacted and, if asked, numbers masked.

    The copy's ``log_format`` is the already formatted (and masked) text, escaped, so any observer
    downstream, ours or Twisted's, renders the safe text; a failure becomes ``log_traceback`` text.
    """

    def __init__(self, observer: ILogObserver, mask: bool) -> None:
        self._observer = observer
        self._mask = mask

    def __call__(self, event: dict[str, Any]) -> None:
        own = {k: _without_secrets(k, v) for k, v in event.items() if not k.startswith("log_")}
        meta = {k: v for k, v in event.items() if k.startswith("log_") and k != "log_failure"}
        text = formatEvent({**event, **own})
        failure = event.get("log_failure")
        if failure is not None:
            meta["log_traceback"] = failure.getTraceback()
        if self._mask:
            text = mask_msisdn(text)
            if "log_traceback" in meta:
                meta["log_traceback"] = mask_msisdn(meta["log_traceback"])
        safe = {k: _plain(v, self._mask) for k, v in own.items()}
        self._observer({**safe, **meta, "log_format": text.replace("{", "{{").replace("}", "}}")})


def _timestamp(event: Mapping[str, Any]) -> str:
    moment = datetime.fromtimestamp(event.get("log_time", 0.0), UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _level(event: Mapping[str, Any]) -> str:
    return getattr(event.get("log_level"), "name", "info")


@implementer(ILogObserver)
class JsonLinesObserver:
    """One JSON object per line: time, level, namespace, text, then the event's own fields."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __call__(self, event: dict[str, Any]) -> None:
        record = {k: v for k, v in event.items() if not k.startswith("log_")}
        record.update(time=_timestamp(event), level=_level(event),
                      namespace=event.get("log_namespace", "-"), text=formatEvent(event))
        if "log_traceback" in event:
            record["traceback"] = event["log_traceback"]
        self._stream.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._stream.flush()


@implementer(ILogObserver)
class TextObserver:
    """``2024-05-01T12:00:00.000Z info [roamback.core.engine] text`` for people reading a terminal."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __call__(self, event: dict[str, Any]) -> None:
        namespace = event.get("log_namespace", "-")
        line = f"{_timestamp(event)} {_level(event)} [{namespace}] {formatEvent(event)}\n"
        if "log_traceback" in event:
            line += event["log_traceback"].rstrip("\n") + "\n"
        self._stream.write(line)
        self._stream.flush()


def make_observer(format: str, level: str, mask_msisdn: bool, stream: IO[str]) -> ILogObserver:
    """The whole output chain: level filter, then redaction, then the chosen format."""
    output = JsonLinesObserver(stream) if format == "json" else TextObserver(stream)
    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    return FilteringLogObserver(RedactingObserver(output, mask_msisdn), [predicate])


class _ToTwisted(logging.Handler):
    """Routes stdlib logging (SQLAlchemy, Alembic) through the same filter and redaction."""

    def emit(self, record: logging.LogRecord) -> None:
        level = _STDLIB_LEVELS.get(record.levelno, LogLevel.info)
        Logger(namespace=record.name).emit(level, "{message}", message=record.getMessage())


def configure_logging(format: str, level: str, mask_msisdn: bool, stream: IO[str]) -> ILogObserver:
    """Start global logging once, at process start; returns the observer for tests and tooling."""
    observer = make_observer(format, level, mask_msisdn, stream)
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    root = logging.getLogger()
    root.addHandler(_ToTwisted())
    root.setLevel({"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING}.get(level,
                                                                                            logging.ERROR))
    return observer
