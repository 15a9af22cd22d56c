"""A Diameter Ro online charging system (OCS) for the simulated network.

It lets ``roamback demo --charging diameter`` and the tests charge callbacks over real Diameter on
loopback against an OCS that rates like the built-in ledger: CER/CEA, DWR/DWA and DPR/DPA on each
connection (``_responder``, the server-side counterpart of ``diameter.peer``), CCR-I/U/T against an
in-memory account book (``book``) with the ledger's own rating functions. Start it with
``start_ocs(OcsSettings(...), reactor)``, or with ``ocs.enabled: true`` in simnet's configuration.
"""

from .book import Account, Book
from .server import RunningOcs, start_ocs
from .settings import AccountSettings, OcsSettings, RateSettings

__all__ = ["Account", "AccountSettings", "Book", "OcsSettings", "RateSettings", "RunningOcs", "start_ocs"]
