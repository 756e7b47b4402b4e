"""The route table itself: areas add routers independently, so clashes are caught here."""

from __future__ import annotations

import re
from collections import Counter

from mamori.web.routes import iter_routes


def _shape(path: str) -> str:
    """``/api/v1/x/{id}`` and ``/api/v1/x/{other}`` are the same route to the router."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_no_two_routes_share_a_method_and_path(app):
    seen = Counter(
        (method, _shape(route.path))
        for route in iter_routes(app.routes)
        for method in route.methods
    )
    clashes = sorted(key for key, count in seen.items() if count > 1)
    assert not clashes, f"routes registered twice: {clashes}"


def test_no_literal_segment_is_shadowed_by_an_earlier_parameter_route(app):
    """``GET /x/{id}`` declared before ``GET /x/count`` would swallow ``/x/count``."""
    routes = [(m, r.path) for r in iter_routes(app.routes) for m in sorted(r.methods)]
    shadowed = []
    for i, (method, path) in enumerate(routes):
        if "{" in path:
            continue
        for earlier_method, earlier in routes[:i]:
            if earlier_method != method or "{" not in earlier:
                continue
            pattern = (
                "^"
                + re.sub(r"\{[^}:]+(:path)?\}", lambda m: ".+" if m.group(1) else "[^/]+", earlier)
                + "$"
            )
            if re.match(pattern, path):
                shadowed.append(f"{method} {path} is shadowed by {earlier}")
    assert not shadowed, "\n".join(shadowed)
