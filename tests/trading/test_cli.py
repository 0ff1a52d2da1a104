import os
import subprocess
import sys


def _run(args, database_url, **env):
    full = {**os.environ, "DATABASE_URL": database_url, "TENDERHALL_PASSWORD": "first admin password", **env}
    return subprocess.run([sys.executable, "-m", "trading.cli", *args], capture_output=True, text=True, env=full,
                          timeout=60)


async def test_cli_user_create_first_admin_then_login(database_url, pool, client):
    r = _run(["user", "create", "admin1", "--role", "admin", "--display-name", "系统管理员"], database_url)
    assert r.returncode == 0, r.stderr
    assert "admin1" in r.stderr
    login = await client.post("/api/auth/login", json={"username": "admin1", "password": "first admin password"})
    assert login.status_code == 200 and login.json()["user"]["roles"] == ["admin"]
    assert login.json()["user"]["display_name"] == "系统管理员"


async def test_cli_user_create_duplicate_refused(database_url, pool):
    assert _run(["user", "create", "admin2", "--role", "admin"], database_url).returncode == 0
    r = _run(["user", "create", "admin2", "--role", "admin"], database_url)
    assert r.returncode == 2 and "username_taken" in r.stderr


async def test_cli_db_upgrade_is_idempotent(database_url):
    r = _run(["db", "upgrade"], database_url)
    assert r.returncode == 0 and "up to date" in r.stderr
