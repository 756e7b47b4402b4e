"""Oversized request bodies are refused before any route or form parser reads them."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from mamori.web.middleware import BodySizeLimitMiddleware


def _app(limit: int) -> FastAPI:
    app = FastAPI()
    seen: list[int] = []

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        seen.append(len(body))
        return {"size": len(body)}

    @app.post("/form")
    async def form(request: Request) -> dict[str, int]:
        data = await request.form()
        return {"fields": len(data)}

    app.add_middleware(BodySizeLimitMiddleware, max_bytes=limit)
    app.state.seen = seen
    return app


def test_body_within_limit_passes():
    client = TestClient(_app(1000))
    assert client.post("/echo", content=b"x" * 1000).json() == {"size": 1000}


def test_declared_length_over_limit_is_413_and_never_reaches_the_route():
    app = _app(1000)
    client = TestClient(app)
    r = client.post("/echo", content=b"x" * 1001)
    assert r.status_code == 413
    assert "larger than 1000 bytes" in r.json()["detail"]
    assert app.state.seen == []


def test_streamed_body_without_length_is_cut_at_the_limit():
    def chunks():
        for _ in range(50):
            yield b"y" * 100

    client = TestClient(_app(1000))
    r = client.post("/echo", content=chunks())
    assert r.status_code == 413


def test_multipart_form_over_limit_is_413_not_parsed():
    client = TestClient(_app(1000))
    r = client.post("/form", files={"file": ("a.bin", b"z" * 5000)})
    assert r.status_code == 413


def test_invalid_content_length_is_400():
    client = TestClient(_app(1000))
    r = client.post("/echo", content=b"abc", headers={"content-length": "nope"})
    assert r.status_code == 400
