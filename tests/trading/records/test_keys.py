import base64
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trading.records import keys
from trading.settings import Settings

# golang.org/x/mod/sumdb/note note_test.go: an independent implementation's key.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"


def go_private_key() -> Ed25519PrivateKey:
    raw = base64.b64decode(GO_SKEY.split("+", 4)[4])
    return Ed25519PrivateKey.from_private_bytes(raw[1:])


def test_verifier_key_matches_go_note_reference():
    assert keys.verifier_key("PeterNeumann", go_private_key()) == GO_VKEY
    parsed = keys.VerifierKey(GO_VKEY)
    assert parsed.name == "PeterNeumann" and parsed.key_id.hex() == "c74f20a3"


@pytest.mark.parametrize("bad", [
    "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",   # wrong key id
    "PeterNeumann+c74f20a3+AhpC2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",   # wrong algorithm byte
    "PeterNeumann+c74f20a3",                                                 # no key
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
])
def test_verifier_key_refuses_malformed(bad):
    with pytest.raises(ValueError):
        keys.VerifierKey(bad)


def test_platform_key_created_once_with_mode_0600(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    k1 = keys.load_platform_key(settings)
    path = tmp_path / "keys" / "platform.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    k2 = keys.load_platform_key(settings)
    assert keys.public_bytes(k1) == keys.public_bytes(k2)
    vkey = keys.platform_verifier_key(settings)
    assert vkey.startswith(settings.origin + "+")
    assert keys.VerifierKey(vkey).public_key.public_bytes_raw() == keys.public_bytes(k1)


def test_platform_key_loaded_from_signing_key_path(tmp_path: Path):
    path = tmp_path / "elsewhere" / "log.key"
    settings = Settings(data_dir=tmp_path / "d", signing_key_path=path)
    keys.load_platform_key(settings)
    assert path.exists() and not (tmp_path / "d" / "keys" / "platform.key").exists()


def test_rotation_keeps_old_verifier_keys(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    old = keys.platform_verifier_key(settings)
    new = keys.rotate_platform_key(settings)
    assert new != old
    assert keys.all_verifier_keys(settings) == [new, old]


def test_cli_log_key_show_and_rotate(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "TENDERHALL_DATA_DIR": str(tmp_path)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "trading.cli", "log-key", *a], capture_output=True,
                                    text=True, env=env)
    first = run("show").stdout.split()
    new = run("rotate").stdout.strip()
    assert len(first) == 1 and run("show").stdout.split() == [new, first[0]]
