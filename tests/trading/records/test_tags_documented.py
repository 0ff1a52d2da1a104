import re
from pathlib import Path

from trading.records.tags import Tag

DOC = Path(__file__).resolve().parents[3] / "docs" / "tags.md"


def test_every_tag_is_listed_in_docs_tags_md():
    listed = set(re.findall(r"\| `([a-z_]+:[a-z_]+:[a-z_]+)` \|", DOC.read_text(encoding="utf-8")))
    assert {t.value for t in Tag} - listed == set(), "tags missing from docs/tags.md"
    assert listed - {t.value for t in Tag} == set(), "docs/tags.md lists tags the enum does not have"


def test_every_tag_has_the_source_subject_action_shape():
    bad = [t.value for t in Tag if not re.fullmatch(r"[a-z]+:[a-z_]+:[a-z_]+", t.value)]
    assert bad == []
    assert len({t.value for t in Tag}) == len(list(Tag)), "two enum members share a tag"
