"""compose.yaml and the Dockerfile describe a deployable platform: the app and PostgreSQL, migrated on start."""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_names_the_app_and_postgresql():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) >= {"app", "db"}
    db = services["db"]
    assert db["image"].startswith("postgres:")
    assert "healthcheck" in db
    assert any(v.endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    app = services["app"]
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert app["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert "@db:5432/" in app["environment"]["DATABASE_URL"]
    assert "tenderhall db upgrade && tenderhall serve --host 0.0.0.0" in " ".join(app["command"])
    assert set(compose["volumes"]) >= {"pgdata", "appdata"}


def test_dockerfile_installs_the_project_and_serves():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install ." in text
    assert "tenderhall db upgrade && tenderhall serve --host 0.0.0.0" in text
    assert "USER tenderhall" in text
