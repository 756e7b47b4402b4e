"""A flat view of the app's route table (paths, methods, path parameters).

Newer FastAPI versions keep included routers as nested entries in ``app.routes``; this
walks them either way, so the navigation and the route-walking tests see every route.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import fastapi.routing
from starlette.routing import BaseRoute, Mount

_PARAM_RE = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?}")


@dataclass(frozen=True, slots=True)
class RouteInfo:
    path: str
    methods: frozenset[str]
    name: str
    is_mount: bool = False

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(_PARAM_RE.findall(self.path))


def _contexts(routes: Iterable[BaseRoute]) -> Iterator[Any]:
    walker = getattr(fastapi.routing, "iter_route_contexts", None)
    if walker is None:
        yield from routes
    else:
        yield from walker(list(routes))


def iter_routes(routes: Iterable[BaseRoute]) -> Iterator[RouteInfo]:
    """Every route of ``app.routes`` (mounts such as ``/static`` flagged ``is_mount``)."""
    for entry in _contexts(routes):
        original = getattr(entry, "original_route", entry)
        path = getattr(entry, "path", None)
        if path is None:
            continue
        methods = frozenset(getattr(entry, "methods", None) or ())
        yield RouteInfo(
            path=path,
            methods=methods,
            name=str(getattr(entry, "name", "") or ""),
            is_mount=isinstance(original, Mount),
        )


__all__ = ["RouteInfo", "iter_routes"]
