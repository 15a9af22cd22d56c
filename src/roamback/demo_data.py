"""Demo subscribers, accounts and rates installed on an empty embedded database.

They make `roamback serve` and `roamback demo` useful on a laptop with nothing else configured; an
operator turns this off with ``charging.ledger.seed_demo_data: false``. Seeding only ever happens on an
empty subscribers table, so it never touches real data.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .config import Config
from .core.model import Subscriber
from .ledger.accounts import create_account, seed_default_rates, top_up
from .storage.pool import Database
from .storage.provisioning import upsert_subscriber
from .storage.schema import subscribers
from .storage.trigger_accounts import set_default_destination

# name -> MSISDN; the demo and the README refer to them by name.
DEMO_SUBSCRIBERS = {
    "alice": "+33612345678",
    "bruno": "+33698765432",
    "carla": "+33611223344",
    "dmitri": "+33622334455",
    "nadia": "+33633445566",
    "paulo": "+33644556677",
}

# name -> (language, visited region or None when at home, prepaid credit in cents)
DEMO_PROFILES = {
    "alice": ("en", "ES", 1000),
    "bruno": ("fr", "US", 20),
    "carla": ("es", "DE", 2000),
    "dmitri": ("ru", "AE", 1500),
    "nadia": ("ar", "MA", 1500),
    "paulo": ("pt", None, 500),
}

# name -> where a missed call to the access number connects them (``subscribers.default_destination``)
DEMO_DEFAULT_DESTINATIONS = {
    "dmitri": "+4915112345678",
}


def demo_subscriber(name: str, home_region: str) -> Subscriber:
    language, visited, _ = DEMO_PROFILES[name]
    return Subscriber(
        msisdn=DEMO_SUBSCRIBERS[name], home_region=home_region, language=language, active=True,
        roaming=visited is not None, visited_region=visited, service_allowed=True, account_id=name,
    )


def seed(conn: Connection, config: Config, at: datetime) -> bool:
    """Install the demo data if the subscribers table is empty; return whether anything was written."""
    if conn.execute(sa.select(sa.func.count()).select_from(subscribers)).scalar_one():
        return False
    for name, (_, _, credit) in DEMO_PROFILES.items():
        upsert_subscriber(conn, demo_subscriber(name, config.home.region), at=at)
        create_account(conn, name, currency=config.home.currency, at=at)
        top_up(conn, name, credit, at=at, note="demo credit")
    for name, destination in DEMO_DEFAULT_DESTINATIONS.items():
        set_default_destination(conn, DEMO_SUBSCRIBERS[name], destination)
    seed_default_rates(conn)
    return True


async def seed_if_empty(db: Database, config: Config, now: datetime) -> bool:
    return await db.write(lambda conn: seed(conn, config, now))
