from trading.records.log import Appended, append_entry
from trading.records.tags import Tag

__all__ = ["Appended", "Tag", "append_entry"]
