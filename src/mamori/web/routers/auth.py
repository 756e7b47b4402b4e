"""Login, logout and the language switch (server-rendered forms)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from mamori.store.repos import users
from mamori.web.deps import (
    HasherDep,
    SessionDep,
    SettingsDep,
    audit_request,
    client_ip,
    resolve_principal,
    safe_next,
)
from mamori.web.i18n import LANGUAGES
from mamori.web.sessions import (
    codec_for,
    load_session,
    password_fingerprint,
    store_session,
)
from mamori.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(request: Request, session: SessionDep, next: str = "/") -> Response:
    if resolve_principal(request, session) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    result = users.authenticate(
        session,
        username=username,
        password=password,
        hasher=hasher,
        max_failures=settings.login_max_failures,
        lock_minutes=settings.login_lock_minutes,
        source_ip=client_ip(request),
    )
    session.commit()
    if not result.ok or result.user is None:
        key = "login.locked" if result.outcome is users.LoginOutcome.LOCKED else "login.failed"
        return render(
            request,
            "login.html",
            {"next": safe_next(next), "error": key, "username": username},
            status_code=401,
        )
    user = result.user
    old = load_session(request)
    new = codec_for(request).new(
        uid=user.id,
        pw=password_fingerprint(user.password_hash),
        lang=old.lang or user.language,
    )
    response = RedirectResponse(safe_next(next), status_code=303)
    store_session(request, response, new)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    principal = resolve_principal(request, session)
    if principal is not None:
        audit_request(
            session,
            request,
            principal,
            action="auth.logout",
            tenant_id=principal.home_tenant_id,
            target=f"user:{principal.user.id}" if principal.user else "",
        )
        session.commit()
    lang = load_session(request).lang
    response = RedirectResponse("/login", status_code=303)
    store_session(request, response, codec_for(request).new(lang=lang))
    return response


@router.post("/lang")
def switch_language(
    request: Request,
    session: SessionDep,
    lang: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    web = load_session(request)
    if lang in LANGUAGES:
        web.lang = lang
        principal = resolve_principal(request, session)
        if principal is not None and principal.user is not None:
            principal.user.language = lang
            session.commit()
    response = RedirectResponse(safe_next(next), status_code=303)
    store_session(request, response, web)
    return response
