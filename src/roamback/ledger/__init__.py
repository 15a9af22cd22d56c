"""The built-in prepaid/postpaid ledger: the charging backend used when no external OCS is configured."""

from __future__ import annotations

from .accounts import (
    CSV_COLUMNS,
    DEFAULT_RATES,
    RateImportError,
    RateRow,
    UnknownAccount,
    adjust,
    create_account,
    load_rates,
    rates_from_csv,
    rates_to_csv,
    replace_rates,
    seed_default_rates,
    set_credit_limit,
    top_up,
)
from .backend import LedgerCharging, UnknownReservation
from .rating import (
    Rate,
    billed_seconds,
    call_cost_minor,
    cost_minor,
    longest_prefix,
    max_talk_seconds,
)

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_RATES",
    "LedgerCharging",
    "Rate",
    "RateImportError",
    "RateRow",
    "UnknownAccount",
    "UnknownReservation",
    "adjust",
    "billed_seconds",
    "call_cost_minor",
    "cost_minor",
    "create_account",
    "load_rates",
    "longest_prefix",
    "max_talk_seconds",
    "rates_from_csv",
    "rates_to_csv",
    "replace_rates",
    "seed_default_rates",
    "set_credit_limit",
    "top_up",
]
