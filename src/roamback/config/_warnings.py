"""Settings that are valid but probably not what an operator wants in production.

They never stop start-up (the embedded mode is meant to run as is); ``config check`` prints them.
"""

from __future__ import annotations

import re

from ._sections import Config

_LOOPBACK = re.compile(r"interface=(127\.\d+\.\d+\.\d+|::1|\\:\\:1|localhost)(:|$)")


def config_warnings(config: Config) -> list[str]:
    warnings = []
    if config.api.enabled and not config.api.keys:
        warnings.append("api.keys: no API key configured: the HTTP API refuses every call (401)")
    listen = config.api.listen
    if config.api.enabled and listen.startswith("tcp:") and not _LOOPBACK.search(listen):
        warnings.append("api.listen: plain TCP beyond loopback: API keys travel in clear; "
                        "use an ssl: endpoint")
    if config.charging.ledger.seed_demo_data and not config.database.url.startswith("sqlite"):
        warnings.append("charging.ledger.seed_demo_data: demo subscribers and credit would be created in "
                        "a server database; turn it off in production")
    if config.policy.daily_cap == 0:
        warnings.append("policy.daily_cap: 0 turns the daily cap off (fraud exposure)")
    if not config.policy.leg_a_registered_only:
        warnings.append("policy.leg_a_registered_only: false lets a request name the number to call back "
                        "(callback bombing of third parties)")
    return warnings
