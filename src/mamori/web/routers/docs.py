"""The OpenAPI schema and Swagger UI, for logged-in users only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse

from mamori.web.deps import get_principal

router = APIRouter(include_in_schema=False, dependencies=[Depends(get_principal)])


@router.get("/api/v1/openapi.json")
def openapi(request: Request) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/api/v1/docs")
def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/api/v1/openapi.json", title="mamori API")
