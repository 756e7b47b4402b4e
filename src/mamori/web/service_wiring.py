"""What the service API and the service pages share: staff-only scope, the caller's language,
quote PDFs, and the invitation e-mail of a newly provisioned tenant's administrator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from mamori.config import Settings
from mamori.errors import (
    PermissionDeniedError,
    ValidationError,
)
from mamori.service import onboarding as flow
from mamori.service.errors import OnboardingError
from mamori.service.invite import (
    Invitation,
    InvitationError,
    SmtpRelay,
    build_message,
    invitation_link,
)
from mamori.service.text import Lang, check_lang
from mamori.store.repos import audit
from mamori.store.repos import service as repo
from mamori.store.repos import service_invites as invites
from mamori.store.tables import OnboardingCaseRow, Role
from mamori.web.deps import (
    Principal,
    TenantScope,
    TenantScopeDep,
    client_ip,
    language_for,
)

#: Largest check sheet accepted with the meeting notes (the official sheet is ~100 KB).
MAX_SHEET_BYTES = 10 * 1024 * 1024


def lang_of(request: Request, principal: Principal | None) -> Lang:
    return check_lang(language_for(request, principal))


def require_staff(scope: TenantScope) -> TenantScope:
    """Operators and administrators (logged in or not an API key); else 403."""
    principal = scope.principal
    if not principal.role.is_staff or principal.is_api_key:
        raise PermissionDeniedError("only operators and administrators handle quotes")
    return scope


def _staff(scope: TenantScopeDep) -> TenantScope:
    return require_staff(scope)


StaffScope = Annotated[TenantScope, Depends(_staff)]


def customer_devices(session: Session, principal: Principal) -> int | None:
    """The devices licensed to a customer's tenant today (``None`` for staff or none)."""
    tenant_id = principal.home_tenant_id
    if not principal.role.is_customer or tenant_id is None:
        return None
    return repo.licensed_devices(session, tenant_id=tenant_id, on=date.today())


def source_ip(request: Request) -> str:
    return client_ip(request)


def quote_pdf_response(session: Session, scope: TenantScope, quote_id: int, lang: str) -> Response:
    from mamori.service.pdf import render_quote_pdf  # reportlab, on demand

    row = repo.get_quote(session, quote_id=quote_id, tenant_ids=scope.tenant_ids)
    data = render_quote_pdf(repo.quote_document(row), lang=check_lang(lang))
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{row.number}.pdf"'},
    )


def assign_operator(scope: TenantScope) -> int | None:
    """The operator provisioning a tenant is assigned it (administrators see all anyway)."""
    principal = scope.principal
    if principal.user is not None and principal.role is Role.OPERATOR:
        return principal.user.id
    return None


def check_invitable(row: OnboardingCaseRow, settings: Settings) -> None:
    if row.stage != flow.Stage.PROVISIONED.value:
        raise OnboardingError(
            f"招待は作成済みのテナントの管理者にだけ送れます "
            f"(case {row.id} is not provisioned: stage {row.stage!r})"
        )
    if smtp_relay(settings) is None:
        raise ValidationError(
            "メール送信（SMTPリレー）が設定されていません "
            "(no SMTP relay is configured: set MAMORI_RESPOND_SMTP_HOST)"
        )


# --- invitations of new administrators ------------------------------------------------


@dataclass(frozen=True, slots=True)
class InviteOutcome:
    """What happened to the invitation: sent (to, until), failed (error) or no relay."""

    sent_to: str | None = None
    expires_at: datetime | None = None
    error: str | None = None
    configured: bool = True

    @property
    def sent(self) -> bool:
        return self.sent_to is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "configured": self.configured,
            "sent": self.sent,
            "sent_to": self.sent_to,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "error": self.error,
        }


def smtp_relay(settings: Settings) -> SmtpRelay | None:
    """The configured SMTP relay (``respond_smtp_*``), or ``None`` when there is none."""
    return SmtpRelay.from_settings(settings)


def base_url(request: Request, settings: Settings) -> str:
    return settings.respond_base_url or str(request.base_url)


def send_invitation(
    request: Request,
    session: Session,
    settings: Settings,
    scope: TenantScope,
    row: OnboardingCaseRow,
    *,
    lang: Lang = "ja",
) -> InviteOutcome:
    """Store a new invitation for the case's administrator and e-mail it (commits).

    The invitation is committed before sending, so a link that reached the customer always
    works; a failed send is audited and reported, and the link can be sent again.
    """
    relay = smtp_relay(settings)
    if relay is None:
        return InviteOutcome(configured=False)
    done = repo.provisioned(session, row=row)
    email = str((row.provisioning or {}).get("admin_email") or "")
    invitation, token = invites.create_invitation(
        session,
        user=done.admin,
        email=email,
        valid_for=timedelta(hours=settings.service_invite_hours),
        actor=scope.principal.name,
        case_id=row.id,
        language=lang,
        source_ip=source_ip(request),
    )
    session.commit()
    message = build_message(
        Invitation(
            to=email,
            tenant_name=done.tenant.name,
            username=done.admin.username,
            contact_name=row.contact_name,
            link=invitation_link(base_url(request, settings), token),
            expires_at=invitation.expires_at,
        ),
        sender=relay.sender,
        lang=lang,
    )
    try:
        relay.send(message)
    except InvitationError as exc:
        audit.record(
            session,
            action="user.invitation.send_failed",
            actor=scope.principal.name,
            tenant_id=done.tenant.id,
            target=f"user:{done.admin.id}",
            detail={"invitation": invitation.id, "error": str(exc)[:500]},
            source_ip=source_ip(request),
        )
        session.commit()
        return InviteOutcome(error=str(exc))
    invites.mark_sent(session, row=invitation)
    session.commit()
    return InviteOutcome(sent_to=email, expires_at=invitation.expires_at)


__all__ = [
    "MAX_SHEET_BYTES",
    "InviteOutcome",
    "StaffScope",
    "assign_operator",
    "base_url",
    "check_invitable",
    "customer_devices",
    "lang_of",
    "quote_pdf_response",
    "require_staff",
    "send_invitation",
    "smtp_relay",
    "source_ip",
]
