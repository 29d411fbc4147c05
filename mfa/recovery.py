"""Recovery codes: ten per user, single use, shown once, stored as keyed hashes."""

import secrets

from . import crypto

COUNT = 10
# Crockford's base32 alphabet: no I, L, O or U, so a code copied by hand reads back the same.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
LENGTH = 10  # 50 random bits
# Fewer unused codes than this: the user is told to create new ones.
LOW = 4
_READ_AS = str.maketrans({"o": "0", "i": "1", "l": "1"})


def new_codes() -> list[str]:
    return [
        format_code("".join(secrets.choice(ALPHABET) for _ in range(LENGTH))) for _ in range(COUNT)
    ]


def format_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def normalize(value: str) -> str:
    """What the user typed, as stored before hashing: case, spaces and hyphens do not matter,
    and the letters Crockford's alphabet leaves out read as the digits they look like."""
    return "".join(value.split()).replace("-", "").lower().translate(_READ_AS)


def is_well_formed(value: str) -> bool:
    code = normalize(value)
    return len(code) == LENGTH and all(c in ALPHABET for c in code)


def hashes(value: str) -> list[str]:
    return crypto.recovery_code_hashes(normalize(value))
