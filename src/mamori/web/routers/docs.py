"""The OpenAPI schema and Swagger UI, for logged-in users only.

Swagger UI's files come from the ``swagger-ui-bundle`` package and are served by mamori
itself (``/static-docs``), so the docs work on a machine without internet access and the
page needs no third-party origin in its content security policy.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse

from mamori.web.deps import get_principal

router = APIRouter(include_in_schema=False, dependencies=[Depends(get_principal)])

DOCS_ASSETS = "/static-docs"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mamori API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="/api/v1/openapi.json"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script>
</body>
</html>
"""


@router.get("/api/v1/openapi.json")
def openapi(request: Request) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/api/v1/docs")
def docs() -> HTMLResponse:
    return HTMLResponse(_PAGE.format(assets=DOCS_ASSETS))
