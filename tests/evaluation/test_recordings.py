"""Audio/video recordings of the opening and the evaluation (政府采购货物和服务招标投标管理办法 第三十九条) over real
HTTP on real PostgreSQL: filed by the lot's agency as a streamed body, registered in the tender's record and
archive, read back with its hash checked; a government-procurement report does not go to the purchaser until both
stages are on file. Each rule with its refusal."""
from __future__ import annotations

import hashlib
import os

import msgspec

from evaluation.recordings import services as recordings
from tests.evaluation.test_gp_award import assert_refused, cst, entries, file_recordings, headers, signed_gp
from tests.evaluation.test_services import tx
from trading.accounts.schemas import Role
from trading.records import services as records


def _url(lot) -> str:
    return f"/api/evaluation/lots/{lot['lot_id']}/recordings"


async def test_recordings_are_filed_registered_read_back_and_gate_the_gp_report(make_lot, pool, clock, settings,
                                                                                client, factory, monkeypatch):
    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch, recordings=False)
    clock.set(cst("2026-03-30T10:00"))
    agency = await headers(factory, lot["agency_user"])
    # the report does not go to the purchaser while a recording is missing
    r = await client.post(f"/api/lots/{lot['lot_id']}/award/report", headers=agency)
    assert_refused(r, 409, "recording_missing")
    assert r.json()["missing"] == ["opening", "evaluation"]

    video = os.urandom(recordings_stream_size := records.STREAM_FROM + 12345)  # past the size read into memory
    r = await client.put(f"{_url(lot)}/opening?filename=开标现场录像-机位1.mp4", content=video,
                         headers={**agency, "Content-Type": "video/mp4"})
    assert r.status_code == 201, r.text
    filed = r.json()
    assert (filed["stage"], filed["size"], filed["filename"]) == ("opening", recordings_stream_size,
                                                                  "开标现场录像-机位1.mp4")
    assert filed["sha256"] == hashlib.sha256(video).hexdigest()
    r = await client.post(f"/api/lots/{lot['lot_id']}/award/report", headers=agency)
    assert_refused(r, 409, "recording_missing")
    assert r.json()["missing"] == ["evaluation"]
    audio = b"ID3" + os.urandom(3000)
    r = await client.put(f"{_url(lot)}/evaluation", content=audio, headers={**agency, "Content-Type": "audio/mpeg"})
    assert r.status_code == 201 and r.json()["filename"] == "evaluation-recording", r.text

    # listed on the lot and in the tender's record, logged with its hash, read back (streamed, hash checked)
    listed = (await client.get(_url(lot), headers=agency)).json()
    assert [(x["stage"], x["sha256"]) for x in listed] == [("opening", filed["sha256"]),
                                                          ("evaluation", hashlib.sha256(audio).hexdigest())]
    _, regulator = await factory.signed_in(Role.REGULATOR)
    docs = (await client.get(f"/api/records/tenders/{lot['tender_id']}/documents", headers=regulator)).json()
    assert {(d["kind"], d["sha256"]) for d in docs} >= {("opening_recording", filed["sha256"])}
    logged = [e for e in await entries(pool, "record:document:add") if e["body"]["kind"].endswith("_recording")]
    assert [(e["body"]["kind"], e["body"]["sha256"]) for e in logged] == [
        ("opening_recording", filed["sha256"]), ("evaluation_recording", hashlib.sha256(audio).hexdigest())]
    r = await client.get(f"/api/records/tenders/{lot['tender_id']}/documents/{filed['sha256']}", headers=regulator)
    assert r.status_code == 200 and r.content == video and r.headers["content-type"].startswith("video/mp4")

    r = await client.post(f"/api/lots/{lot['lot_id']}/award/report", headers=agency)
    assert r.status_code == 201, r.text


async def test_a_recording_is_refused_with_a_reason_and_leaves_nothing(make_lot, pool, clock, settings, client,
                                                                       factory, monkeypatch):
    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch, recordings=False)
    agency = await headers(factory, lot["agency_user"])
    video = {**agency, "Content-Type": "video/mp4"}
    other_org = await factory.org("agency")
    _, stranger = await factory.signed_in(Role.AGENCY, org_id=other_org.id)
    _, bidder = await factory.signed_in(Role.BIDDER, org_id=lot["bidders"][0][0].id)
    assert_refused(await client.put(f"{_url(lot)}/opening", content=b"x", headers={**stranger, "Content-Type":
                                                                                   "video/mp4"}), 403,
                   "agency_required")
    assert (await client.put(f"{_url(lot)}/opening", content=b"x", headers={**bidder, "Content-Type": "video/mp4"})
            ).status_code == 403
    assert_refused(await client.put(f"{_url(lot)}/opening", content=b"%PDF-1.7",
                                    headers={**agency, "Content-Type": "application/pdf"}), 415,
                   "recording_media_type")
    assert_refused(await client.put(f"{_url(lot)}/opening", content=b"", headers=video), 422, "recording_empty")
    assert_refused(await client.put(f"{_url(lot)}/rehearsal", content=b"x", headers=video), 404,
                   "recording_stage_unknown")
    assert (await client.get(_url(lot), headers=agency)).json() == []
    assert [e for e in await entries(pool, "record:document:add") if e["body"]["kind"].endswith("_recording")] == []


async def test_a_stage_is_recorded_only_once_it_has_begun(pool, clock, client, factory):
    lot = await factory.published_lot()   # before its bid deadline: neither stage has begun
    agency = {"Authorization": f"Bearer {await factory.token(lot['agency_user'])}", "Content-Type": "video/mp4"}
    for stage in ("opening", "evaluation"):
        r = await client.put(f"/api/evaluation/lots/{lot['lot_id']}/recordings/{stage}", content=b"x",
                             headers=agency)
        assert_refused(r, 409, "recording_too_early")
    clock.set(lot["deadline"])   # the lot closes by the clock at the deadline: the opening begins
    agency["Authorization"] = f"Bearer {await factory.token(lot['agency_user'])}"  # tokens live 24 hours
    r = await client.put(f"/api/evaluation/lots/{lot['lot_id']}/recordings/opening", content=b"x", headers=agency)
    assert r.status_code == 201, r.text
    r = await client.put(f"/api/evaluation/lots/{lot['lot_id']}/recordings/evaluation", content=b"x", headers=agency)
    assert_refused(r, 409, "recording_too_early")   # the evaluation begins when the opening closes


async def test_a_bidding_law_lot_is_not_held_for_recordings(make_lot, pool, clock, settings):
    from tests.evaluation.test_award import signed
    from trading.tenders import repository as tenders

    lot = await signed(make_lot, pool, clock, settings)
    bl = await tx(pool, lambda c: tenders.get_lot(c, lot["lot_id"]))
    assert bl.regime == "bidding_law"
    assert await tx(pool, lambda c: recordings.require_recordings(c, bl)) is None
    await file_recordings(pool, clock, settings, lot, stages=("opening",))  # optional, and taken
    listed = await tx(pool, lambda c: recordings.list_recordings(c, bl.tender_id, bl.id))
    assert [msgspec.to_builtins(x)["stage"] for x in listed] == ["opening"]
