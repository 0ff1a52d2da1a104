"""Settings: one typed object, read from the environment once."""
from __future__ import annotations

import os
from pathlib import Path

import msgspec


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # No DATABASE_URL → an embedded PostgreSQL (pgserver) inside data_dir.
    database_url: str | None = None
    data_dir: Path = Path(".tenderhall")
    host: str = "127.0.0.1"
    port: int = 8000
    # Name of this log/platform, used as the checkpoint origin and the signed-note key name.
    origin: str = "tenderhall.local/log"
    token_ttl_hours: int = 12
    db_pool_min: int = 2
    db_pool_max: int = 10
    # Path of the platform Ed25519 signing key; default: data_dir/keys/platform.key
    signing_key_path: Path | None = None
    # Retention of trading archives, in years (RULES 7.5).
    retention_years: int = 20
    # 统一社会信用代码 of the platform's operator and its affiliates, who may not bid here
    # (电子招标投标办法 第二十三条); TENDERHALL_OPERATOR_CREDIT_CODES, comma-separated.
    operator_credit_codes: tuple[str, ...] = ()
    # Background tasks (checkpoint signer, clock-driven transitions); tests switch them off.
    background: bool = True

    @property
    def key_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    kw: dict = {}
    if env.get("DATABASE_URL"):
        kw["database_url"] = env["DATABASE_URL"]
    if env.get("TENDERHALL_DATA_DIR"):
        kw["data_dir"] = Path(env["TENDERHALL_DATA_DIR"])
    if env.get("TENDERHALL_HOST"):
        kw["host"] = env["TENDERHALL_HOST"]
    if env.get("TENDERHALL_PORT"):
        kw["port"] = int(env["TENDERHALL_PORT"])
    if env.get("TENDERHALL_ORIGIN"):
        kw["origin"] = env["TENDERHALL_ORIGIN"]
    if env.get("TENDERHALL_TOKEN_TTL_HOURS"):
        kw["token_ttl_hours"] = int(env["TENDERHALL_TOKEN_TTL_HOURS"])
    if env.get("TENDERHALL_DB_POOL_MAX"):
        kw["db_pool_max"] = int(env["TENDERHALL_DB_POOL_MAX"])
    if env.get("TENDERHALL_SIGNING_KEY"):
        kw["signing_key_path"] = Path(env["TENDERHALL_SIGNING_KEY"])
    if env.get("TENDERHALL_OPERATOR_CREDIT_CODES"):
        codes = env["TENDERHALL_OPERATOR_CREDIT_CODES"].split(",")
        kw["operator_credit_codes"] = tuple(c.strip().upper() for c in codes if c.strip())
    if env.get("TENDERHALL_BACKGROUND"):
        kw["background"] = _bool(env["TENDERHALL_BACKGROUND"])
    return Settings(**kw)
