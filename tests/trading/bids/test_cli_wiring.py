"""The argparse wiring of the bids commands (offline paths: no server needed)."""
from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trading.bids import receipt as R
from trading.cli import build_parser, main
from trading.records.keys import verifier_key


def test_commands_are_registered_and_custodian_is_shared() -> None:
    parser = build_parser()
    args = parser.parse_args(["bid", "seal", "--lot", "L", "--price", "1", "--pack", "p.json"])
    assert args.pack == "p.json"
    assert parser.parse_args(["custodian", "keygen", "--lot", "L"]).lot == "L"
    assert parser.parse_args(["keys", "generate"]).func is not None


def test_verify_receipt_offline_exit_codes(tmp_path) -> None:
    key = Ed25519PrivateKey.generate()
    r = R.Receipt(origin="o.test/log", lot="l", bid="00" * 16, version=1, manifest_sha256="ab" * 32,
                  ct_root="cd" * 32, received_at="2026-03-02T01:00:00.000Z", log_index=3, leaf_hash="ef" * 32)
    good = tmp_path / "good.receipt"
    good.write_text(R.sign_receipt(r, key, "o.test/log"))
    bad = tmp_path / "bad.receipt"
    bad.write_text(good.read_text().replace("log_index 3", "log_index 4"))
    vkey = verifier_key("o.test/log", key)
    assert main(["bid", "verify-receipt", str(good), "--offline", "--vkey", vkey]) == 0
    assert main(["bid", "verify-receipt", str(bad), "--offline", "--vkey", vkey]) == 2


def test_keys_generate_writes_an_encrypted_key(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TENDERHALL_PASSPHRASE", "pw for the test")
    out = tmp_path / "id.key"
    assert main(["keys", "generate", "--out", str(out), "--label", "t"]) == 0
    assert out.exists() and b"ciphertext" in out.read_bytes()
    before = out.read_bytes()
    assert main(["keys", "generate", "--out", str(out)]) == 2  # never overwrites a key
    assert out.read_bytes() == before


def test_ct_root_prints_what_a_receipt_names_and_refuses_a_missing_file(tmp_path, capsys) -> None:
    from trading.bids import cthash

    f = tmp_path / "投标文件.ct"
    f.write_bytes(b"\x28" + bytes(2 * 1024 * 1024))
    assert main(["bid", "ct-root", str(f)]) == 0
    out = capsys.readouterr().out.split()
    assert out[:2] == [cthash.hash_file(f)[0].hex(), str(2 * 1024 * 1024 + 1)]
    assert main(["bid", "ct-root", str(tmp_path / "missing.ct")]) == 2
    assert "missing.ct" in capsys.readouterr().err
