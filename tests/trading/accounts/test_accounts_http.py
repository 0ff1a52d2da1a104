"""Accounts through real HTTP on real PostgreSQL."""
from trading.accounts.credit_code import make_credit_code
from trading.accounts.schemas import Role
from tests.conftest import PASSWORD


async def _entries(pool, tag):
    async with pool.acquire() as c:
        return await c.fetch("SELECT * FROM log_entries WHERE tag = $1 ORDER BY seq", tag)


async def test_register_organisation_with_chinese_name_roundtrips(client, pool):
    r = await client.post("/api/organisations/", json={
        "name": "福州市政工程有限公司", "kind": "bidder", "credit_code": "91350100M000100Y43",
        "legal_representative": "林建国"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "福州市政工程有限公司" and body["approved"] is False
    assert len(await _entries(pool, "account:org:register")) == 1


async def test_register_organisation_bad_credit_code_refused(client, pool):
    r = await client.post("/api/organisations/", json={
        "name": "某公司", "kind": "bidder", "credit_code": "91350100M000100Y44"})
    assert r.status_code == 422
    assert r.json()["code"] == "credit_code_invalid"
    assert "校验位" in r.json()["detail"]
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT count(*) FROM organisations") == 0
    assert await _entries(pool, "account:org:register") == []


async def test_register_organisation_twice_refused(client):
    data = {"name": "甲公司", "kind": "tenderer", "credit_code": make_credit_code("91350100M000200Y4")}
    assert (await client.post("/api/organisations/", json=data)).status_code == 201
    r = await client.post("/api/organisations/", json=data)
    assert r.status_code == 409 and r.json()["code"] == "organisation_exists"


async def test_unknown_field_refused_with_400(client):
    r = await client.post("/api/organisations/", json={
        "name": "乙公司", "kind": "bidder", "credit_code": "91350100M000100Y43", "min_price": "1"})
    assert r.status_code == 400
    assert r.json()["code"] == "validation_error"


async def test_malformed_json_refused_with_400(client):
    r = await client.post("/api/organisations/", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["code"] == "validation_error"


async def test_login_issues_token_and_me_answers(client, factory):
    user = await factory.user(Role.BIDDER, display_name="王小明")
    r = await client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["display_name"] == "王小明"


async def test_token_stored_only_as_hash(client, factory, pool):
    user = await factory.user(Role.BIDDER)
    token = (await client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD})).json()["token"]
    async with pool.acquire() as c:
        rows = await c.fetch("SELECT token_hash::text AS h FROM auth_tokens")
    assert rows and all(token not in r["h"] and token.encode().hex() not in r["h"] for r in rows)


async def test_login_wrong_password_refused(client, factory):
    user = await factory.user(Role.BIDDER)
    r = await client.post("/api/auth/login", json={"username": user.username, "password": "wrong password!"})
    assert r.status_code == 401 and r.json()["code"] == "login_failed"


async def test_login_failure_of_privileged_role_is_witnessed(client, factory, pool):
    admin = await factory.user(Role.ADMIN)
    bidder = await factory.user(Role.BIDDER)
    await client.post("/api/auth/login", json={"username": admin.username, "password": "wrong password!"})
    await client.post("/api/auth/login", json={"username": bidder.username, "password": "wrong password!"})
    rows = await _entries(pool, "account:login:fail")
    assert [r["actor"] for r in rows] == [str(admin.id)]


async def test_logout_revokes_token(client, factory):
    user, headers = await factory.signed_in(Role.BIDDER)
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 200
    r = await client.get("/api/auth/me", headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "token_invalid"


async def test_expired_token_refused(client, factory, clock):
    user, headers = await factory.signed_in(Role.BIDDER)
    clock.advance(hours=25)
    r = await client.get("/api/auth/me", headers=headers)
    assert r.status_code == 401


async def test_missing_token_refused(client):
    r = await client.get("/api/auth/me")
    assert r.status_code == 401 and r.json()["code"] == "token_invalid"


async def test_create_user_needs_admin(client, factory):
    _, bidder = await factory.signed_in(Role.BIDDER)
    _, admin = await factory.signed_in(Role.ADMIN)
    data = {"username": "custodian1", "display_name": "保管人一", "password": "long enough pw", "roles": ["custodian"]}
    r = await client.post("/api/users/", json=data, headers=bidder)
    assert r.status_code == 403 and r.json()["code"] == "role_required"
    r = await client.post("/api/users/", json=data, headers=admin)
    assert r.status_code == 201 and r.json()["roles"] == ["custodian"]


async def test_username_is_unique_whatever_its_case_and_signs_in_in_any_case(client, factory):
    _, admin = await factory.signed_in(Role.ADMIN)
    data = {"username": "ZhangSan.Agency", "display_name": "张三", "password": "long enough pw", "roles": ["agency"]}
    r = await client.post("/api/users/", json=data, headers=admin)
    assert r.status_code == 201 and r.json()["username"] == "ZhangSan.Agency"      # kept as typed
    r = await client.post("/api/users/", json={**data, "username": "zhangsan.agency"}, headers=admin)
    assert r.status_code == 409 and r.json()["code"] == "username_taken"           # a look-alike account refused
    r = await client.post("/api/auth/login", json={"username": "ZHANGSAN.AGENCY", "password": "long enough pw"})
    assert r.status_code == 200 and r.json()["token"]


async def test_create_user_weak_password_refused(client, factory):
    _, admin = await factory.signed_in(Role.ADMIN)
    r = await client.post("/api/users/", json={"username": "weak1", "display_name": "弱", "password": "short",
                                               "roles": ["bidder"]}, headers=admin)
    assert r.status_code == 422 and r.json()["code"] == "password_too_weak"


async def test_create_user_unknown_role_refused(client, factory):
    _, admin = await factory.signed_in(Role.ADMIN)
    r = await client.post("/api/users/", json={"username": "weak2", "display_name": "x", "password": "long enough pw",
                                               "roles": ["superuser"]}, headers=admin)
    assert r.status_code == 400


async def test_approve_organisation_is_admin_only_and_logged(client, factory, pool):
    org = await factory.org("bidder", approved=False)
    _, agency = await factory.signed_in(Role.AGENCY)
    _, admin = await factory.signed_in(Role.ADMIN)
    assert (await client.post(f"/api/organisations/{org.id}/approve", headers=agency)).status_code == 403
    r = await client.post(f"/api/organisations/{org.id}/approve", headers=admin)
    assert r.status_code == 200 and r.json()["approved"] is True
    assert len(await _entries(pool, "account:org:approve")) == 1
