"""Versioned state records: what the flow keeps between events and pickles into recovery snapshots.

Every class of the flow's state (``PartitionState``, ``Contact``, ``RollupState``,
``Acc`` …) is a slotted dataclass deriving from ``Record``. Fields are named
attributes (a slot read is faster than a list index by a module constant), and a
record pickles as ``(restore, (class, VERSION, field values))``: positional, so a
snapshot stays small, and versioned, so a snapshot written by an older sqm is
brought up to date on load by the class's one ``upgrade``.

Adding a field is one line (at the end of the class, with a default) plus one
step in ``upgrade``, and ``VERSION`` one higher:

>>> from dataclasses import dataclass
>>> @dataclass(slots=True)
... class Case(Record):
...     VERSION = 2
...     opened: float | None = None
...     clock: float | None = None  # new in version 2
...
...     @classmethod
...     def upgrade(cls, old, version):
...         values = tuple(old)
...         if version < 2:
...             values = (*values, None)  # version 1 had no clock
...         return values
>>> restore(Case, 1, (5.0,))
Case(opened=5.0, clock=None)
>>> rebuild, args = Case(5.0, 9.0).__reduce__()  # what pickle stores
>>> args[1:], rebuild(*args)
((2, (5.0, 9.0)), Case(opened=5.0, clock=9.0))

Version 0 is the state from before versions existed: records that were plain
lists (a contact ``[ts, dims, target, …]``, an accumulator of 24 sums and a
sketch) and dataclasses pickled with their ``__dict__``. A record whose class was
such a dataclass gets that dict in ``upgrade(old, 0)`` (through ``__setstate__``);
a container converts the lists it holds with ``restore(Cls, 0, the_list)``.
tests/streams/test_state_upgrade.py resumes the flow from a recovery snapshot
written then (tests/streams/fixtures/v0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from operator import attrgetter
from typing import Any, ClassVar, TypeVar

from sqm.errors import SqmError

R = TypeVar("R", bound="Record")


class StateVersionError(SqmError):
    """Pickled state this sqm cannot read: a version newer than its own, or one it has no upgrade from."""


class Record:
    """Base of the flow's state classes (each a ``@dataclass(slots=True)``): pickled with its version."""

    __slots__ = ()
    VERSION: ClassVar[int] = 1

    @classmethod
    def upgrade(cls, old: Any, version: int) -> tuple[Any, ...]:
        """This version's field values from those pickled by ``version`` (< VERSION); see the module docstring."""
        msg = f"{cls.__name__}: no upgrade from state version {version} to {cls.VERSION}"
        raise StateVersionError(msg)

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        cls = type(self)
        return restore, (cls, cls.VERSION, _getter(cls)(self))

    def __setstate__(self, state: Any) -> None:
        """Only for a record pickled as a plain dataclass (version 0); others are built by ``restore``."""
        cls = type(self)
        for name, value in zip(names(cls), cls.upgrade(state, 0), strict=True):
            object.__setattr__(self, name, value)


def restore(cls: type[R], version: int, values: Any) -> R:
    """A record of ``cls`` from the field values pickled by ``version`` of it."""
    if version != cls.VERSION:
        if version > cls.VERSION:
            msg = (f"{cls.__name__}: state version {version} is newer than this sqm's ({cls.VERSION}); "
                   f"run the sqm that wrote it, or delete state_dir/recovery to start afresh")
            raise StateVersionError(msg)
        values = cls.upgrade(values, version)
    return cls(*values)


class Records(dict[str, R]):
    """Records of one class by key, pickled as one table ``{key: field values}`` with the class and its version.

    For the records kept by the thousand (a stream's contacts): one pickling step
    for the whole table instead of one per record, about as fast as the plain lists.

    >>> from streams.contacts import Contact
    >>> table = Records(Contact, {"c1": Contact(ts=5.0)})
    >>> rebuild, (cls, version, values) = table.__reduce__()
    >>> cls.__name__, version, values["c1"][:2], rebuild(cls, version, values) == table
    ('Contact', 1, (5.0, ('', '', '')), True)
    """

    __slots__ = ("cls",)

    def __init__(self, cls: type[R], items: Mapping[str, R] | None = None) -> None:
        super().__init__(items or {})
        self.cls = cls

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        cls, get = self.cls, _getter(self.cls)
        return restore_records, (cls, cls.VERSION, {key: get(rec) for key, rec in self.items()})


def restore_records(cls: type[R], version: int, table: dict[str, Any]) -> Records[R]:
    """``Records`` of ``cls`` from the table pickled by ``version`` of it."""
    if version == cls.VERSION:
        return Records(cls, {key: cls(*values) for key, values in table.items()})
    return Records(cls, {key: restore(cls, version, values) for key, values in table.items()})


_NAMES: dict[type, tuple[str, ...]] = {}
_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def names(cls: type) -> tuple[str, ...]:
    """The field names of a record class, in ``__init__`` order."""
    got = _NAMES.get(cls)
    if got is None:
        got = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return got


def _getter(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    get = _GETTERS.get(cls)
    if get is None:
        fetch = attrgetter(*names(cls))
        get = _GETTERS[cls] = fetch if len(names(cls)) > 1 else (lambda obj: (fetch(obj),))
    return get
