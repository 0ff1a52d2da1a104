from trading.accounts.schemas import Role
from tests.conftest import PASSWORD


async def test_login_page_renders_in_chinese_and_english(client):
    r = await client.get("/login")
    assert r.status_code == 200 and "用户登录" in r.text
    r = await client.get("/login?lang=en")
    assert "Sign in" in r.text


async def test_login_form_sets_cookie_and_redirects(client, factory):
    user = await factory.user(Role.BIDDER, display_name="李四")
    r = await client.post("/login", data={"username": user.username, "password": PASSWORD, "next": "/tenders"},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/tenders"
    assert "th_token=" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    me = await client.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["display_name"] == "李四"


async def test_login_form_wrong_password_refused(client, factory):
    user = await factory.user(Role.BIDDER)
    r = await client.post("/login", data={"username": user.username, "password": "nope nope nope"},
                          follow_redirects=False)
    assert r.status_code == 401 and "用户名或密码错误" in r.text


async def test_login_form_refuses_open_redirect(client, factory):
    user = await factory.user(Role.BIDDER)
    r = await client.post("/login", data={"username": user.username, "password": PASSWORD,
                                          "next": "//evil.example/"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
