"""A small named registry, so that adding a parser, scanner or action is adding one module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from mamori.errors import DuplicateError, NotFoundError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps a unique snake_case name to a registered object (usually a class).

    Register with the decorator; the name comes from the object's ``NAME`` attribute
    unless given explicitly. A second registration under the same name raises, so two
    modules can never silently shadow each other. Third-party packages can add entries
    through the entry-point group passed as ``entry_point_group``.
    """

    def __init__(self, kind: str, *, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T] = {}
        self._plugins_loaded = entry_point_group is None

    def register(self, item: T) -> T:
        """Class decorator: register ``item`` under its ``NAME``."""
        key = getattr(item, "NAME", None)
        if not isinstance(key, str) or not key:
            raise ValueError(f"{self.kind}: {item!r} has no NAME to register under")
        return self.register_as(key)(item)

    def register_as(self, name: str) -> Callable[[T], T]:
        """Decorator registering under an explicit name (for functions and instances)."""

        def add(item: T) -> T:
            if name in self._items:
                raise DuplicateError(f"{self.kind} {name!r} is already registered")
            self._items[name] = item
            return item

        return add

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        assert self.entry_point_group is not None  # noqa: S101 - guarded by _plugins_loaded
        for ep in entry_points(group=self.entry_point_group):
            if ep.name not in self._items:
                self._items[ep.name] = ep.load()

    def get(self, name: str) -> T:
        self._load_plugins()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise NotFoundError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        self._load_plugins()
        return sorted(self._items.items())

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load_plugins()
        return len(self._items)


__all__ = ["Registry"]
