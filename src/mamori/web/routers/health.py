"""``/healthz`` (the process answers) and ``/readyz`` (the database answers); no auth."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mamori.errors import ConfigError
from mamori.web.deps import get_database

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(request: Request) -> JSONResponse | dict[str, str]:
    try:
        get_database(request).check()
    except ConfigError:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return {"status": "ready"}
