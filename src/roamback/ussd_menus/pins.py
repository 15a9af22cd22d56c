"""PIN hashing: scrypt with a random salt, stored as ``scrypt$n$r$p$salt$hash`` (base64).

A PIN has at most a million values, so no hash makes a stolen one safe for long; scrypt makes each guess
cost about 16 MiB and some tens of milliseconds, which turns "instant" into "days" for a dump of many
subscribers. The parameters travel with the hash, so they can be raised later without breaking old ones.
Callers run these on a thread: they block for the whole computation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    key = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_KEY_BYTES)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_pin(pin: str, stored: str) -> bool:
    """False for a wrong PIN and for anything that is not a hash this module wrote."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = hashlib.scrypt(pin.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
