"""The one cache the engine's hot paths share: values computed from a model, a machine and an engine
(plus plain hashable arguments), keyed by the identity of those three objects (None for one the
value does not depend on: the per-model caches pass None, None).

Identity, not value: hashing a model with its per-layer tuples costs more than most of what is
cached. Each entry holds the three objects, so an id is never reused while its entry lives, and a
hit checks that the objects are the same ones. Bounded: past `limit` entries the cache starts over,
so a long sweep's memory stays flat.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class IdentityMemo(Generic[V]):
    __slots__ = ("_entries", "_limit")

    def __init__(self, limit: int) -> None:
        self._entries: dict[tuple, tuple[object, object, object, V]] = {}
        self._limit = limit

    def get(self, m: object, hw: object, engine: object, key: Hashable, compute: Callable[[], V]) -> V:
        """The value for (m, hw, engine, key), computed once by `compute`."""
        full = (id(m), id(hw), id(engine), key)
        hit = self._entries.get(full)
        if hit is not None and hit[0] is m and hit[1] is hw and hit[2] is engine:
            return hit[3]
        value = compute()
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[full] = (m, hw, engine, value)
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
