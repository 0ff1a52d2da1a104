"""The specialty classification (评标专家专业分类): two levels, category `A01` and specialty `A0101`.

Seeded from `expert_pool/data/specialties.json` (works A, goods B, services C). Experts hold specialty codes;
a draw quota names a specialty or a whole category, and an expert matches a quota when one of their codes starts
with the quota's code. Each specialty is technical or economic (招标投标法 第三十七条: 技术、经济等方面的专家).
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import msgspec


class Specialty(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    en: str
    kind: str          # technical | economic; for a category, the kind of all its specialties or "mixed"
    level: int         # 1 = category, 2 = specialty
    parent: str | None


class Classification:
    def __init__(self, items: list[Specialty]) -> None:
        self.items = items
        self.by_code = {s.code: s for s in items}

    def get(self, code: str) -> Specialty | None:
        return self.by_code.get(code)

    def leaves(self) -> list[Specialty]:
        return [s for s in self.items if s.level == 2]

    def categories(self) -> list[Specialty]:
        return [s for s in self.items if s.level == 1]

    def children(self, code: str) -> list[Specialty]:
        return [s for s in self.items if s.parent == code]

    def label(self, code: str, lang: str = "zh") -> str:
        s = self.by_code.get(code)
        if s is None:
            return code
        return s.en if lang == "en" else s.name


def build(data: dict) -> Classification:
    items: list[Specialty] = []
    for cat in data["categories"]:
        kinds = {s["kind"] for s in cat["specialties"]}
        items.append(Specialty(code=cat["code"], name=cat["name"], en=cat["en"],
                               kind=kinds.pop() if len(kinds) == 1 else "mixed", level=1, parent=None))
        for s in cat["specialties"]:
            if not s["code"].startswith(cat["code"]):
                raise ValueError(f"specialty {s['code']} is not under category {cat['code']}")
            items.append(Specialty(code=s["code"], name=s["name"], en=s["en"], kind=s["kind"], level=2,
                                   parent=cat["code"]))
    return Classification(items)


@lru_cache(maxsize=1)
def classification() -> Classification:
    text = (resources.files("expert_pool") / "data" / "specialties.json").read_text(encoding="utf-8")
    return build(json.loads(text))
