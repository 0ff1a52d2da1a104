"""argon2id password hashing (argon2-cffi's defaults are the RFC 9106 low-memory profile)."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A hash of a random password, verified against when the user does not exist, so a failed login takes as long
# whether or not the username is known.
_DUMMY = _hasher.hash("tenderhall-no-such-user")


def set_hasher_parameters(**params: int) -> None:
    """Replace the argon2id parameters (time_cost, memory_cost in KiB, parallelism). Production keeps the
    defaults; the test suite lowers the cost so that hundreds of accounts do not dominate its run time."""
    global _hasher, _DUMMY
    _hasher = PasswordHasher(**params)
    _DUMMY = _hasher.hash("tenderhall-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
