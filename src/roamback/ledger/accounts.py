"""Provisioning for the built-in ledger: accounts, credit movements and the rate table.

Every database function here is a unit of work taking a ``Connection``: the service runs it with
``await db.write(fn)``, the CLI with ``db.write_blocking(fn)``, so both share one tested code path and
each movement commits together with its ledger entry.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..core.model import Leg
from ..storage.schema import accounts, ledger_entries, rates
from .rating import Rate

CSV_COLUMNS = (
    "leg", "prefix", "description", "per_minute_minor", "connect_fee_minor", "initial_seconds",
    "increment_seconds",
)
_MAX_PREFIX = 15  # E.164 digits
_MAX_DESCRIPTION = 80
_MAX_DECIMALS = 4  # rates.per_minute_minor is NUMERIC(14, 4)


class UnknownAccount(LookupError):
    """The account id names no account: a provisioning mistake, never silently created."""


class RateImportError(ValueError):
    """A rate CSV was rejected as a whole; ``errors`` lists (line number, problem) for every bad line."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        super().__init__("; ".join(f"line {line}: {problem}" for line, problem in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class RateRow:
    """A line of the rate table as provisioned: which leg it prices, the rate, a human label."""

    leg: Leg
    rate: Rate
    description: str = ""


def _rate_row(leg: str, prefix: str, description: str, per_minute: str, fee: int, initial: int,
              increment: int) -> RateRow:
    return RateRow(Leg(leg), Rate(prefix, Decimal(per_minute), fee, initial, increment), description)


# EUR cents. Leg A is priced by the roamer's visited country (the home network pays the visited
# network to reach a roamer), leg B by destination; the empty prefix is the expensive catch-all so an
# unlisted country is still served, just never at a loss.
DEFAULT_RATES: tuple[RateRow, ...] = (
    _rate_row("A", "33", "Roaming in France", "10", 0, 30, 6),
    _rate_row("A", "34", "Roaming in Spain", "10", 0, 30, 6),
    _rate_row("A", "49", "Roaming in Germany", "10", 0, 30, 6),
    _rate_row("A", "1", "Roaming in USA/Canada", "45", 0, 60, 60),
    _rate_row("A", "971", "Roaming in UAE", "90", 0, 60, 60),
    _rate_row("A", "7", "Roaming in Russia/Kazakhstan", "120", 0, 60, 60),
    _rate_row("A", "", "Roaming elsewhere", "150", 0, 60, 60),
    _rate_row("B", "44", "United Kingdom", "12", 0, 30, 6),
    _rate_row("B", "33", "France", "12", 0, 30, 6),
    _rate_row("B", "34", "Spain", "12", 0, 30, 6),
    _rate_row("B", "49", "Germany", "12", 0, 30, 6),
    _rate_row("B", "1", "USA/Canada", "15", 0, 60, 60),
    _rate_row("B", "351", "Portugal", "12", 0, 30, 6),
    _rate_row("B", "212", "Morocco", "60", 10, 60, 60),
    _rate_row("B", "7", "Russia/Kazakhstan", "80", 10, 60, 60),
    _rate_row("B", "", "Rest of world", "120", 20, 60, 60),
)


# -- accounts ----------------------------------------------------------------------------------------


def create_account(
    conn: Connection,
    account_id: str,
    *,
    currency: str,
    at: datetime,
    postpaid: bool = False,
    credit_limit_minor: int = 0,
) -> None:
    """Open an empty account; credit arrives through ``top_up`` so it always has a ledger entry."""
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise ValueError(f"currency {currency!r} is not an ISO 4217 code")
    if credit_limit_minor < 0 or (credit_limit_minor and not postpaid):
        raise ValueError("a credit limit must be >= 0 and only applies to postpaid accounts")
    exists = conn.execute(sa.select(accounts.c.id).where(accounts.c.id == account_id)).first()
    if exists is not None:
        raise ValueError(f"account {account_id!r} already exists")
    conn.execute(
        accounts.insert().values(
            id=account_id, currency=currency, postpaid=postpaid, balance_minor=0, reserved_minor=0,
            credit_limit_minor=credit_limit_minor, updated_at=at,
        )
    )


def top_up(conn: Connection, account_id: str, amount_minor: int, *, at: datetime,
           note: str | None = None) -> int:
    """Add credit; returns the new balance. Only positive amounts: a withdrawal is an ``adjust``."""
    if amount_minor <= 0:
        raise ValueError(f"a top-up must be positive, got {amount_minor}")
    return _move(conn, account_id, amount_minor, kind="topup", at=at, note=note)


def adjust(conn: Connection, account_id: str, amount_minor: int, *, at: datetime, note: str) -> int:
    """A manual correction either way; the note is mandatory because an auditor will ask why."""
    if amount_minor == 0 or not note.strip():
        raise ValueError("an adjustment needs a non-zero amount and a note")
    return _move(conn, account_id, amount_minor, kind="adjust", at=at, note=note)


def set_credit_limit(conn: Connection, account_id: str, credit_limit_minor: int, *, at: datetime) -> None:
    if credit_limit_minor < 0:
        raise ValueError("a credit limit cannot be negative")
    result = conn.execute(
        accounts.update()
        .where(accounts.c.id == account_id, accounts.c.postpaid == sa.true())
        .values(credit_limit_minor=credit_limit_minor, updated_at=at)
    )
    if result.rowcount == 0:
        raise UnknownAccount(f"no postpaid account {account_id!r}")


def _move(conn: Connection, account_id: str, amount_minor: int, *, kind: str, at: datetime,
          note: str | None) -> int:
    """Change the balance in SQL (not read-modify-write) so a concurrent reservation is never lost."""
    result = conn.execute(
        accounts.update()
        .where(accounts.c.id == account_id)
        .values(balance_minor=accounts.c.balance_minor + amount_minor, updated_at=at)
    )
    if result.rowcount == 0:
        raise UnknownAccount(f"no account {account_id!r}")
    balance = conn.execute(
        sa.select(accounts.c.balance_minor).where(accounts.c.id == account_id)
    ).scalar_one()
    conn.execute(
        ledger_entries.insert().values(
            account_id=account_id, at=at, kind=kind, amount_minor=amount_minor,
            balance_after_minor=balance, note=note,
        )
    )
    return int(balance)


# -- rates -------------------------------------------------------------------------------------------


def load_rates(conn: Connection) -> list[RateRow]:
    rows = conn.execute(sa.select(rates).order_by(rates.c.leg, rates.c.prefix)).mappings().all()
    return [
        RateRow(
            Leg(row["leg"]),
            Rate(
                row["prefix"], Decimal(row["per_minute_minor"]), int(row["connect_fee_minor"]),
                int(row["initial_seconds"]), int(row["increment_seconds"]),
            ),
            row["description"] or "",
        )
        for row in rows
    ]


def replace_rates(conn: Connection, rows: Sequence[RateRow]) -> int:
    """Swap the whole table in one transaction so the service never rates against half a file.

    Running services keep their cached table until ``LedgerCharging.reload_rates()``.
    """
    _check_unique(rows)
    conn.execute(rates.delete())
    if rows:
        conn.execute(rates.insert(), [_rate_values(row) for row in rows])
    return len(rows)


def seed_default_rates(conn: Connection) -> int:
    """Install ``DEFAULT_RATES`` on an empty table only, so an operator's own rates are never overwritten."""
    if conn.execute(sa.select(sa.func.count()).select_from(rates)).scalar_one():
        return 0
    return replace_rates(conn, DEFAULT_RATES)


def _rate_values(row: RateRow) -> dict[str, object]:
    return {
        "leg": row.leg.value, "prefix": row.rate.prefix, "description": row.description or None,
        "per_minute_minor": row.rate.per_minute_minor, "connect_fee_minor": row.rate.connect_fee_minor,
        "initial_seconds": row.rate.initial_seconds, "increment_seconds": row.rate.increment_seconds,
    }


def _check_unique(rows: Iterable[RateRow]) -> None:
    seen: set[tuple[Leg, str]] = set()
    for row in rows:
        key = (row.leg, row.rate.prefix)
        if key in seen:
            raise ValueError(f"duplicate rate for leg {row.leg.value} prefix {row.rate.prefix!r}")
        seen.add(key)


def rates_to_csv(rows: Iterable[RateRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values = _rate_values(row)
        values["description"] = row.description
        values["per_minute_minor"] = format(row.rate.per_minute_minor.normalize(), "f")
        writer.writerow([values[column] for column in CSV_COLUMNS])
    return out.getvalue()


def rates_from_csv(text: str) -> list[RateRow]:
    """Parse and validate a whole file; every bad line is reported at once, each by its line number."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in CSV_COLUMNS if column not in (reader.fieldnames or ())]
    if missing:
        raise RateImportError([(1, f"header lacks column(s) {', '.join(missing)}")])
    rows: list[RateRow] = []
    errors: list[tuple[int, str]] = []
    first_line: dict[tuple[Leg, str], int] = {}
    for record in reader:
        line = reader.line_num
        try:
            row = _parse_row(record)
        except ValueError as exc:
            errors.append((line, str(exc)))
            continue
        key = (row.leg, row.rate.prefix)
        if key in first_line:
            errors.append((line, f"leg {row.leg.value} prefix {row.rate.prefix!r} repeats line "
                                 f"{first_line[key]}"))
            continue
        first_line[key] = line
        rows.append(row)
    if errors:
        raise RateImportError(errors)
    return rows


def _parse_row(record: dict[str, str | None]) -> RateRow:
    if None in record:
        raise ValueError("too many fields")
    field = {column: (record.get(column) or "").strip() for column in CSV_COLUMNS}
    if field["leg"].upper() not in ("A", "B"):
        raise ValueError(f"leg {field['leg']!r} must be A or B")
    prefix = field["prefix"].removeprefix("+")
    if len(prefix) > _MAX_PREFIX or not (prefix == "" or prefix.isdigit()):
        raise ValueError(f"prefix {field['prefix']!r} must be up to {_MAX_PREFIX} digits")
    if len(field["description"]) > _MAX_DESCRIPTION:
        raise ValueError(f"description is longer than {_MAX_DESCRIPTION} characters")
    try:
        per_minute = Decimal(field["per_minute_minor"])
    except InvalidOperation:
        raise ValueError(f"per_minute_minor {field['per_minute_minor']!r} is not a number") from None
    if not per_minute.is_finite() or per_minute < 0 or -per_minute.as_tuple().exponent > _MAX_DECIMALS:
        raise ValueError(f"per_minute_minor {field['per_minute_minor']!r} must be >= 0 with at most "
                         f"{_MAX_DECIMALS} decimals")
    numbers = {column: _whole(field, column) for column in CSV_COLUMNS[4:]}
    rate = Rate(prefix, per_minute, numbers["connect_fee_minor"], numbers["initial_seconds"],
                numbers["increment_seconds"])
    return RateRow(Leg(field["leg"].upper()), rate, field["description"])


def _whole(field: dict[str, str], column: str) -> int:
    text = field[column]
    if not text.isdigit():
        raise ValueError(f"{column} {text!r} must be a whole number >= 0")
    return int(text)
