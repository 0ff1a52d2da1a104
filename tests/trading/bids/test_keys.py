"""Key files: private keys encrypted under a passphrase (scrypt + AES-256-GCM)."""
from __future__ import annotations

import msgspec
import pytest

from trading.bids import ceremony, keys

FAST = 2**10  # scrypt cost for tests only


def test_identity_key_file_round_trip() -> None:
    key, data = keys.new_identity_key("alice", "pass phrase", n=FAST)
    loaded = keys.load_identity_key(data, "pass phrase")
    assert loaded.public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    assert key.private_bytes_raw() not in data


def test_identity_key_file_refuses_wrong_passphrase() -> None:
    _, data = keys.new_identity_key("alice", "pass phrase", n=FAST)
    with pytest.raises(keys.KeyFileError):
        keys.load_identity_key(data, "wrong")


def test_key_file_refuses_altered_header() -> None:
    _, data = keys.new_identity_key("alice", "pass phrase", n=FAST)
    kf = keys.read_keyfile(data)
    altered = msgspec.json.encode(msgspec.structs.replace(kf, label="mallory"))
    with pytest.raises(keys.KeyFileError):
        keys.load_identity_key(altered, "pass phrase")


@pytest.mark.parametrize("suite", ceremony.SUITES)
def test_hpke_key_file_round_trip(suite: str) -> None:
    key, data = keys.new_hpke_key(suite, "lot-1", "pw", n=FAST)
    loaded = keys.load_hpke_key(data, "pw")
    assert loaded.public_bytes() == key.public_bytes() and loaded.suite == suite


def test_hpke_loader_refuses_identity_key_file() -> None:
    _, data = keys.new_identity_key("alice", "pw", n=FAST)
    with pytest.raises(keys.KeyFileError):
        keys.load_hpke_key(data, "pw")


def test_write_private_file_refuses_overwrite(tmp_path) -> None:
    p = tmp_path / "k.json"
    keys.write_private_file(p, b"x")
    assert p.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        keys.write_private_file(p, b"y")
