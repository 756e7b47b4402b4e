"""``create_app(settings)``: the FastAPI application (JSON API + server-rendered UI)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from swagger_ui_bundle import swagger_ui_path

from mamori import __version__
from mamori.config import Settings
from mamori.errors import (
    DuplicateError,
    MamoriError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from mamori.store.db import Database
from mamori.store.passwords import make_hasher
from mamori.web.deps import CsrfError, NotAuthenticatedError, verify_csrf
from mamori.web.i18n import default_catalogue
from mamori.web.middleware import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from mamori.web.routers import ROUTER_MODULES
from mamori.web.routers.docs import DOCS_ASSETS
from mamori.web.sessions import SessionCodec
from mamori.web.templating import make_templates, render

API_PREFIX = "/api/"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX) or "application/json" in request.headers.get(
        "accept", ""
    )


def _error(request: Request, status: int, message: str, key: str) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": message}, status_code=status)
    return render(
        request,
        "error.html",
        {"status": status, "message_key": key, "message": message},
        status_code=status,
    )


async def _not_authenticated(request: Request, exc: Exception) -> Response:
    if _is_api(request):
        reason = exc.reason if isinstance(exc, NotAuthenticatedError) else "not authenticated"
        return JSONResponse(
            {"detail": reason}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    path = request.url.path
    target = "/login" if path == "/" else f"/login?next={path}"
    return RedirectResponse(target, status_code=303)


async def _csrf(request: Request, exc: Exception) -> Response:
    return _error(request, 403, str(exc), "error.csrf")


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(request, 404, str(exc), "error.not_found")


async def _forbidden(request: Request, exc: Exception) -> Response:
    return _error(request, 403, str(exc), "error.forbidden")


async def _invalid(request: Request, exc: Exception) -> Response:
    return _error(request, 422, str(exc), "error.invalid")


async def _duplicate(request: Request, exc: Exception) -> Response:
    return _error(request, 409, str(exc), "error.duplicate")


async def _mamori(request: Request, exc: Exception) -> Response:
    return _error(request, 400, str(exc), "error.invalid")


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type
    if _is_api(request) or exc.status_code not in (404, 405):
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )
    key = "error.not_found" if exc.status_code == 404 else "error.invalid"
    return _error(request, exc.status_code, str(exc.detail), key)


async def _request_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type
    if _is_api(request):
        return JSONResponse({"detail": jsonable_errors(exc)}, status_code=422)
    messages = "; ".join(str(e.get("msg", "")) for e in exc.errors())
    return _error(request, 422, messages, "error.invalid")


def jsonable_errors(exc: RequestValidationError) -> list[dict[str, object]]:
    out = []
    for err in exc.errors():
        out.append(
            {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
        )
    return out


def create_app(settings: Settings, *, db: Database | None = None) -> FastAPI:
    """Build the application.

    ``db`` is the database to use, already migrated (its owner disposes it). Without it,
    one is opened from ``settings``, migrated, and closed at shutdown.

    Raises:
        ConfigError: the database cannot be reached or the data directory is unusable.
    """
    owns_db = db is None
    if db is None:
        if settings.is_sqlite and not settings.database_url:
            settings.ensure_data_dir()
        database = Database(settings)
        database.upgrade()
    else:
        database = db

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_db:
            database.dispose()

    app = FastAPI(
        title="mamori",
        version=__version__,
        description="mamori (守り) API: tenants, users, API keys and the areas built on them.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(verify_csrf)],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.hasher = make_hasher(settings)
    app.state.session_codec = SessionCodec(settings.ensure_secret_key(), settings.session_max_age)
    app.state.templates = make_templates()
    default_catalogue()  # a broken locale file fails here, not on the first page

    app.add_exception_handler(NotAuthenticatedError, _not_authenticated)
    app.add_exception_handler(CsrfError, _csrf)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(PermissionDeniedError, _forbidden)
    app.add_exception_handler(ValidationError, _invalid)
    app.add_exception_handler(DuplicateError, _duplicate)
    app.add_exception_handler(MamoriError, _mamori)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _request_invalid)

    for module in ROUTER_MODULES:
        app.include_router(importlib.import_module(module).router)
    app.mount("/static", StaticFiles(directory=str(files("mamori.web") / "static")), name="static")
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="static-docs")
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


__all__ = ["create_app"]
