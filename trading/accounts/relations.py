"""Relations between bidding organisations that make their bids on the same lot invalid (招标投标法实施条例
第三十四条: 单位负责人为同一人或者存在控股、管理关系的不同单位，不得参加同一标段投标 … 相关投标均无效).

Pure: the evaluation asks it about the organisations whose bids were opened. Two kinds:
- "control": one organisation declared the other (by 统一社会信用代码) as the unit controlling or managing it —
  hard data the bidders declared themselves, so the evaluation treats those bids as invalid;
- "same_representative": the same name as 单位负责人 after NFKC, space and case normalisation — a name is not a
  person, so this is a finding for the committee to verify, never an automatic rejection.
"""
from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from typing import Literal
from uuid import UUID

import msgspec

from trading.accounts.schemas import Organisation


class Relation(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["control", "same_representative"]
    org_ids: tuple[UUID, ...]        # sorted
    detail: str


def _person(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def find_relations(orgs: Sequence[Organisation]) -> list[Relation]:
    by_code = {o.credit_code: o for o in orgs}
    out: list[Relation] = []
    for o in orgs:
        parent = by_code.get(o.controller_credit_code or "")
        if parent is not None and parent.id != o.id:
            out.append(Relation(kind="control", org_ids=tuple(sorted((o.id, parent.id))),
                                detail=f"{parent.name}（{parent.credit_code}）控股或管理 {o.name}（{o.credit_code}）"))
    people: dict[str, list[Organisation]] = defaultdict(list)
    for o in orgs:
        if o.legal_representative and _person(o.legal_representative):
            people[_person(o.legal_representative)].append(o)
    for group in people.values():
        if len(group) > 1:
            out.append(Relation(kind="same_representative", org_ids=tuple(sorted(o.id for o in group)),
                                detail=f"单位负责人同名（{group[0].legal_representative}）："
                                       + "、".join(o.name for o in group)))
    return out
