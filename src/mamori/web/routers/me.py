"""``/api/v1/me``: who the caller is; a user's own language, name and password."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mamori.errors import PermissionDeniedError
from mamori.store.passwords import verify_password
from mamori.store.repos import users
from mamori.web.deps import (
    CurrentPrincipal,
    CurrentUserPrincipal,
    HasherDep,
    SessionDep,
    audit_request,
)
from mamori.web.schemas.me import MePublic, MeUpdate, PasswordChange
from mamori.web.schemas.users import UserPublic
from mamori.web.sessions import codec_for, load_session, password_fingerprint, store_session

router = APIRouter(tags=["me"])


@router.get("/api/v1/me", response_model=MePublic)
def get_me(principal: CurrentPrincipal) -> MePublic:
    return MePublic(
        role=principal.role,
        tenant_ids=sorted(principal.tenant_ids) if principal.tenant_ids is not None else None,
        user=UserPublic.of(principal.user) if principal.user else None,
        api_key_prefix=principal.api_key.prefix if principal.api_key else None,
        api_key_purpose=principal.purpose,
    )


@router.patch("/api/v1/me", response_model=UserPublic)
def update_me(body: MeUpdate, session: SessionDep, principal: CurrentUserPrincipal) -> UserPublic:
    assert principal.user is not None  # noqa: S101 - CurrentUserPrincipal guarantees it
    users.update_user(
        session, user=principal.user, display_name=body.display_name, language=body.language
    )
    session.commit()
    return UserPublic.of(principal.user)


@router.post("/api/v1/me/password", status_code=204, response_model=None)
def change_password(
    request: Request,
    body: PasswordChange,
    session: SessionDep,
    principal: CurrentUserPrincipal,
    hasher: HasherDep,
) -> JSONResponse:
    """Change one's own password; other sessions of the user end, this one continues."""
    user = principal.user
    assert user is not None  # noqa: S101 - CurrentUserPrincipal guarantees it
    if not verify_password(hasher, user.password_hash, body.current_password):
        raise PermissionDeniedError("current password is wrong")
    users.set_password(session, user=user, password=body.new_password, hasher=hasher)
    audit_request(
        session,
        request,
        principal,
        action="user.password",
        tenant_id=user.tenant_id,
        target=f"user:{user.id}",
    )
    session.commit()
    response = JSONResponse(None, status_code=204)
    web = load_session(request)
    if web.uid == user.id:
        renewed = codec_for(request).new(
            uid=user.id,
            pw=password_fingerprint(user.password_hash),
            lang=web.lang,
            tenant=web.tenant,
        )
        store_session(request, response, renewed)
    return response
