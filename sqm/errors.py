"""The sqm error hierarchy.

    SqmError
    ├── ConfigError        a settings file or variable is invalid (names the key)
    ├── InvalidEvent       a ServiceEvent failed validation (names the field and reason)
    ├── StoreError         Redis or InfluxDB could not be reached or answered badly
    └── DeliveryError      a notification channel rejected or failed a message

Messages are built as ``msg = f"..."`` naming the key, field or step and the bad
value, then raised with ``raise X(msg) from err``.
"""

from __future__ import annotations


class SqmError(Exception):
    """Base class of every error sqm raises on purpose."""


class ConfigError(SqmError):
    """Invalid configuration; the message names the key."""


class InvalidEvent(SqmError):
    """A ServiceEvent failed validation.

    ``field`` is the dotted path of the bad field ("" when the whole record is bad)
    and ``reason`` says what is wrong with it.
    """

    def __init__(self, field: str, reason: str, *, index: int | None = None) -> None:
        self.field = field
        self.reason = reason
        self.index = index
        where = f"event[{index}]." if index is not None else ""
        super().__init__(f"{where}{field or '<record>'}: {reason}")

    def as_dict(self) -> dict[str, object]:
        loc: list[object] = ["body"]
        if self.index is not None:
            loc.append(self.index)
        if self.field:
            loc.extend(self.field.split("."))
        return {"loc": loc, "field": self.field, "msg": self.reason, "type": "invalid_event"}


class StoreError(SqmError):
    """A store (Redis, InfluxDB) failed."""


class DeliveryError(SqmError):
    """A notification could not be delivered."""
