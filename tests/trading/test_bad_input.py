"""Input PostgreSQL cannot take — a number past 64 bits, a NUL character — or that Litestar cannot decode — a form
field that is not text — is the client's 400 with a code, never a 500 (each case was found as a 500 by fuzzing the
running app: schemathesis against the OpenAPI spec with a token per role, and multipart uploads, 2026-12-06)."""
from __future__ import annotations

from types import SimpleNamespace

from trading.accounts.schemas import Role
from trading.errors import undecodable_form_handler


async def test_values_the_database_cannot_take_are_a_400_not_a_500(client, factory):
    _, admin = await factory.signed_in(Role.ADMIN)
    huge = 10**25
    for url, headers in ((f"/api/records/checkpoints/{huge}", {}),      # a path integer past int64
                         (f"/api/tenders?page={huge}", {}),              # a page number past int64
                         ("/api/experts?status=a%00b", admin)):          # a NUL character in text
        r = await client.get(url, headers=headers)
        assert (r.status_code, r.json()["code"]) == (400, "invalid_input"), (url, r.text)
        assert "NUL" in r.json()["detail"]
    assert (await client.get("/api/tenders?page=2")).status_code == 200   # in range: answered as before


async def test_a_form_field_that_is_not_text_is_a_400_not_a_500(client, factory):
    # Litestar decodes non-file multipart fields before the handler: binary bytes in a field (a file part sent with
    # an empty filename) or an unknown charset answered 500 (found by a multipart fuzz, 2026-12-06).
    lot = await factory.published_lot()
    url, headers = f"/api/tenders/{lot['tender_id']}/documents", lot["agency_headers"]
    for part in (b'Content-Disposition: form-data; name="file"; filename=""\r\n\r\n\xe1\xff\xb5',
                 b'Content-Disposition: form-data; name="lot_id"\r\nContent-Type: text/plain; charset=no-such\r\n\r\nx'):
        r = await client.post(url, content=b"--XX\r\n" + part + b"\r\n--XX--\r\n",
                              headers={**headers, "content-type": "multipart/form-data; boundary=XX"})
        assert (r.status_code, r.json()["code"]) == (400, "form_field_undecodable"), r.text


def test_decoding_errors_of_the_platforms_own_code_stay_500s():
    # only a field Litestar's form parser could not decode is the client's fault; elsewhere these are bugs
    request = SimpleNamespace(method="GET", url=SimpleNamespace(path="/x"))
    try:
        b"\xff".decode()
    except UnicodeDecodeError as exc:
        own = exc
    for exc in (own, KeyError("k"), LookupError("unknown encoding: x")):
        assert undecodable_form_handler(request, exc).status_code == 500
