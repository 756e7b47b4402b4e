"""Onboarding state machine: every transition validated and audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mamori.hooks import AuditRecorded
from mamori.service.errors import OnboardingError
from mamori.service.onboarding import (
    Inquiry,
    MeetingNotes,
    OnboardingCase,
    Stage,
    attach_quote,
    cancel,
    complete_provisioning,
    issue_form_token,
    plan_provisioning,
    propose,
    read_form_token,
    receive_inquiry,
    record_meeting,
    screen_inquiry,
    sign_contract,
)
from mamori.service.quote import build_quote, issue_quote
from mamori.service.recommend import NetworkSize
from mamori.service.subsidy import SubsidyRequest

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
INQUIRY = Inquiry("株式会社みほん部品", "山田 太郎", "yamada@example.co.jp", "見積りをお願いします")


def _form(**over):
    fields = {
        "company": "株式会社みほん部品",
        "contact_name": "山田 太郎",
        "email": "yamada@example.co.jp",
        "message": "UTMの導入を検討しています。",
        "devices": "12",
        "website": "",
    }
    fields.update(over)
    return fields


def _meeting(devices=10, size=NetworkSize.SMALL, gaps=(142, 148)):
    return MeetingNotes(
        held_on=date(2026, 4, 3),
        attendees=("山田", "operator"),
        notes="事務所1拠点、PC10台。",
        devices=devices,
        network_size=size,
        gaps=gaps,
    )


def _quote_doc(course="small-network", devices=10, number="Q-2026-00001", subsidy=None):
    quote = build_quote(course, devices, 12, subsidy=subsidy)
    return issue_quote(quote, number=number, issue_date=date(2026, 4, 5), customer="みほん部品")


def _at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def _to_quote() -> OnboardingCase:
    case, _ = receive_inquiry("case-1", INQUIRY, actor="web-form", at=T0)
    case, _ = record_meeting(case, _meeting(), actor="op", at=_at(2))
    case, _ = propose(case, actor="op", at=_at(3))
    case, _ = attach_quote(case, _quote_doc(), actor="op", at=_at(4))
    return case


def test_happy_path_records_every_step():
    case, first = receive_inquiry("case-1", INQUIRY, actor="web-form", at=T0)
    assert case.stage is Stage.INQUIRY
    assert (first.action, first.from_stage, first.to_stage) == (
        "onboarding.inquiry",
        None,
        Stage.INQUIRY,
    )
    case, rec = record_meeting(case, _meeting(), actor="op", at=_at(2))
    assert rec.detail["gaps"] == [142, 148] and rec.detail["revised"] is False
    case, rec = propose(case, actor="op", at=_at(3))
    assert case.proposal is not None and case.proposal.course == "small-network"
    assert rec.detail["recommended"] == "small-network"
    case, rec = attach_quote(case, _quote_doc(), actor="op", at=_at(4))
    assert rec.detail["number"] == "Q-2026-00001"
    assert rec.detail["tax_included_total"] == 461_560
    case, rec = sign_contract(
        case,
        signed_on=date(2026, 4, 10),
        start_date=date(2026, 5, 1),
        devices=10,
        actor="op",
        at=_at(9),
    )
    assert case.contract is not None
    assert case.contract.end_date == date(2027, 4, 30)
    assert rec.detail["subsidy_warning"] is None
    case, rec = plan_provisioning(
        case,
        tenant_slug="mihon-buhin",
        admin_username="yamada",
        admin_email="yamada@example.co.jp",
        actor="op",
        at=_at(10),
    )
    assert case.provisioning is not None
    assert (case.provisioning.licences, case.provisioning.course) == (10, "small-network")
    assert case.provisioning.tenant_name == "株式会社みほん部品"
    case, rec = complete_provisioning(case, tenant_id="t-42", actor="system", at=_at(10))
    assert case.stage is Stage.PROVISIONED
    assert case.provisioning.tenant_id == "t-42"
    stages = [(r.from_stage, r.to_stage) for r in case.history]
    assert stages == [
        (None, Stage.INQUIRY),
        (Stage.INQUIRY, Stage.MEETING),
        (Stage.MEETING, Stage.PROPOSAL),
        (Stage.PROPOSAL, Stage.QUOTE),
        (Stage.QUOTE, Stage.CONTRACT),
        (Stage.CONTRACT, Stage.PROVISIONING),
        (Stage.PROVISIONING, Stage.PROVISIONED),
    ]
    assert [r.actor for r in case.history][-1] == "system"


def test_audit_record_as_dict_and_hook():
    case, record = receive_inquiry("case-9", INQUIRY, actor="web-form", at=T0)
    data = record.to_dict()
    assert data["at"] == "2026-04-01T09:00:00+00:00"
    assert data["detail"]["email"] == "yamada@example.co.jp"
    hook = record.to_hook(tenant=None)
    assert isinstance(hook, AuditRecorded)
    assert hook.action == "onboarding.inquiry" and hook.detail["case_id"] == "case-9"


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (lambda c: propose(c, actor="op", at=T0), "cannot propose at stage 'inquiry'"),
        (
            lambda c: attach_quote(c, _quote_doc(), actor="op", at=T0),
            "cannot attach a quote at stage 'inquiry'",
        ),
        (
            lambda c: sign_contract(
                c,
                signed_on=date(2026, 4, 5),
                start_date=date(2026, 4, 5),
                devices=1,
                actor="op",
                at=T0,
            ),
            "cannot sign a contract at stage 'inquiry' (allowed from: quote)",
        ),
        (
            lambda c: plan_provisioning(
                c, tenant_slug="a", admin_username="abc", admin_email="a@b.jp", actor="op", at=T0
            ),
            "cannot plan provisioning",
        ),
        (
            lambda c: complete_provisioning(c, tenant_id="t", actor="op", at=T0),
            "cannot complete provisioning",
        ),
    ],
)
def test_steps_out_of_order_are_refused(step, message):
    case, _ = receive_inquiry("case-1", INQUIRY, actor="web-form", at=T0)
    with pytest.raises(OnboardingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        step(case)


def test_meeting_notes_are_validated_and_revisable():
    case, _ = receive_inquiry("c", INQUIRY, actor="web-form", at=T0)
    with pytest.raises(OnboardingError, match="empty"):
        record_meeting(case, _replace_notes(notes=" "), actor="op", at=_at(5))
    with pytest.raises(OnboardingError, match="attendees"):
        record_meeting(case, _replace_notes(attendees=()), actor="op", at=_at(5))
    with pytest.raises(OnboardingError, match="devices"):
        record_meeting(case, _replace_notes(devices=0), actor="op", at=_at(5))
    with pytest.raises(OnboardingError, match="before it was held"):
        record_meeting(case, _meeting(), actor="op", at=T0)
    with pytest.raises(OnboardingError, match="acting user"):
        record_meeting(case, _meeting(), actor=" ", at=_at(5))
    case, _ = record_meeting(case, _meeting(), actor="op", at=_at(5))
    case, rec = record_meeting(case, _meeting(devices=12), actor="op", at=_at(6))
    assert rec.detail["revised"] is True and case.meeting is not None
    assert case.meeting.devices == 12


def _replace_notes(**changes):
    from dataclasses import replace

    return replace(_meeting(), **changes)


def test_proposal_override_needs_a_reason():
    case, _ = receive_inquiry("c", INQUIRY, actor="web-form", at=T0)
    case, _ = record_meeting(case, _meeting(), actor="op", at=_at(5))
    with pytest.raises(OnboardingError, match="needs a reason"):
        propose(case, actor="op", at=_at(5), course="network")
    case, rec = propose(
        case, actor="op", at=_at(5), course="network", override_reason="拠点追加予定"
    )
    assert case.proposal is not None and case.proposal.course == "network"
    assert rec.detail["override_reason"] == "拠点追加予定"
    # the recommended course itself needs no reason
    case, _ = propose(case, actor="op", at=_at(5), course="small-network")
    assert case.proposal is not None and case.proposal.course == "small-network"


def test_proposal_respects_the_course_range():
    case, _ = receive_inquiry("c", INQUIRY, actor="web-form", at=T0)
    case, _ = record_meeting(case, _meeting(devices=40), actor="op", at=_at(5))
    with pytest.raises(Exception, match="over the range of course 'small-network'"):
        propose(case, actor="op", at=_at(5), course="small-network", override_reason="安い")


def test_quote_must_match_the_proposal_and_repropose_drops_it():
    case, _ = receive_inquiry("c", INQUIRY, actor="web-form", at=T0)
    case, _ = record_meeting(case, _meeting(), actor="op", at=_at(5))
    case, _ = propose(case, actor="op", at=_at(5))
    with pytest.raises(OnboardingError, match="does not match the proposal"):
        attach_quote(case, _quote_doc(devices=9), actor="op", at=_at(5))
    case, _ = attach_quote(case, _quote_doc(), actor="op", at=_at(5))
    with pytest.raises(OnboardingError, match="already attached"):
        attach_quote(case, _quote_doc(), actor="op", at=_at(5))
    case, rec = attach_quote(case, _quote_doc(number="Q-2026-00002"), actor="op", at=_at(5))
    assert rec.detail["supersedes"] == "Q-2026-00001"
    case, _ = propose(case, actor="op", at=_at(6))
    assert case.stage is Stage.PROPOSAL and case.quote is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"signed_on": date(2026, 5, 6)}, "needs a new quote"),  # after valid_until 2026-05-05
        ({"signed_on": date(2026, 4, 4)}, "needs a new quote"),  # before the quote was issued
        ({"start_date": date(2026, 4, 9)}, "cannot start before it is signed"),
        ({"devices": 11}, "issue a new quote first"),
        ({"term_months": 18}, "whole years"),
        ({"term_months": 0}, "whole years"),
    ],
)
def test_contract_is_validated(kwargs, message):
    args = {
        "signed_on": date(2026, 4, 10),
        "start_date": date(2026, 4, 10),
        "devices": 10,
        "actor": "op",
        "at": _at(9),
    }
    args.update(kwargs)
    with pytest.raises(OnboardingError, match=message):
        sign_contract(_to_quote(), **args)


def test_contract_dates():
    case, _ = sign_contract(
        _to_quote(),
        signed_on=date(2026, 4, 5),
        start_date=date(2026, 1, 31) + timedelta(days=65),
        devices=10,
        actor="op",
        at=_at(4),
        term_months=24,
    )
    assert case.contract is not None
    assert case.contract.start_date == date(2026, 4, 6)
    assert case.contract.end_date == date(2028, 4, 5)


def test_contract_before_grant_decision_warns_about_the_subsidy():
    case, _ = receive_inquiry("c", INQUIRY, actor="web-form", at=T0)
    case, _ = record_meeting(case, _meeting(), actor="op", at=_at(5))
    case, _ = propose(case, actor="op", at=_at(5))
    document = _quote_doc(subsidy=SubsidyRequest(2024))
    assert document.quote.subsidy.amount == 209_800
    case, _ = attach_quote(case, document, actor="op", at=_at(5))
    early, rec = sign_contract(
        case,
        signed_on=date(2026, 4, 10),
        start_date=date(2026, 4, 10),
        devices=10,
        actor="op",
        at=_at(9),
        grant_decision_date=date(2026, 4, 20),
    )
    assert early.contract is not None and early.contract.subsidy_warning is not None
    assert "交付決定前" in rec.detail["subsidy_warning"]
    later, rec = sign_contract(
        case,
        signed_on=date(2026, 4, 20),
        start_date=date(2026, 5, 1),
        devices=10,
        actor="op",
        at=_at(19),
        grant_decision_date=date(2026, 4, 20),
    )
    assert later.contract is not None and later.contract.subsidy_warning is None


@pytest.mark.parametrize(
    ("slug", "user", "email", "message"),
    [
        ("Mihon", "yamada", "a@b.jp", "tenant id"),
        ("-mihon", "yamada", "a@b.jp", "tenant id"),
        ("mihon", "ya", "a@b.jp", "admin username"),
        ("mihon", "yamada", "not-an-email", "admin email"),
    ],
)
def test_provisioning_is_validated(slug, user, email, message):
    case, _ = sign_contract(
        _to_quote(),
        signed_on=date(2026, 4, 10),
        start_date=date(2026, 4, 10),
        devices=10,
        actor="op",
        at=_at(9),
    )
    with pytest.raises(OnboardingError, match=message):
        plan_provisioning(
            case, tenant_slug=slug, admin_username=user, admin_email=email, actor="op", at=_at(9)
        )


def test_cancel_from_open_stages_only():
    case = _to_quote()
    with pytest.raises(OnboardingError, match="reason"):
        cancel(case, reason="", actor="op", at=_at(5))
    closed, rec = cancel(case, reason="予算見送り", actor="op", at=_at(5))
    assert closed.stage is Stage.CANCELLED and rec.detail == {"reason": "予算見送り"}
    with pytest.raises(OnboardingError, match="cannot cancel at stage 'cancelled'"):
        cancel(closed, reason="again", actor="op", at=_at(6))
    with pytest.raises(OnboardingError, match="cannot propose"):
        propose(closed, actor="op", at=_at(6))


# --- inquiry form -------------------------------------------------------------------------


def test_screen_accepts_a_normal_form():
    result = screen_inquiry(_form(), rendered_at=T0, submitted_at=T0 + timedelta(seconds=40))
    assert result.accepted and result.inquiry is not None
    assert result.inquiry.devices_hint == 12
    assert result.inquiry.company == "株式会社みほん部品"


@pytest.mark.parametrize(
    ("fields", "seconds", "reason"),
    [
        (_form(website="http://spam.example"), 40, "honeypot"),
        (_form(), 1, "after the form was shown"),
        (_form(), 2 * 86_400, "older than 24 hours"),
        (_form(message="http://a http://b www.c http://d"), 40, "links"),
    ],
)
def test_screen_rejects_spam(fields, seconds, reason):
    result = screen_inquiry(fields, rendered_at=T0, submitted_at=T0 + timedelta(seconds=seconds))
    assert not result.accepted
    assert any(reason in r for r in result.spam)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (_form(company=""), "company"),
        (_form(contact_name=" "), "contact name"),
        (_form(email="yamada@"), "email"),
        (_form(message=""), "message is required"),
        (_form(message="あ" * 5001), "longer than"),
        (_form(devices="ten"), "devices"),
        (_form(devices="0"), "devices"),
    ],
)
def test_screen_reports_field_problems(fields, problem):
    result = screen_inquiry(fields, rendered_at=T0, submitted_at=T0 + timedelta(seconds=30))
    assert not result.accepted and not result.spam
    assert any(problem in p for p in result.problems)


def test_case_needs_an_id():
    with pytest.raises(OnboardingError, match="id"):
        receive_inquiry(" ", INQUIRY, actor="web-form", at=T0)


def test_form_token_round_trip_and_tampering():
    token = issue_form_token("s3cret", T0)
    assert read_form_token("s3cret", token) == T0
    with pytest.raises(OnboardingError, match="not valid"):
        read_form_token("other", token)
    with pytest.raises(OnboardingError, match="not valid"):
        read_form_token("s3cret", token[:-2] + "xx")
    with pytest.raises(OnboardingError, match="not valid"):
        read_form_token("s3cret", "")
    with pytest.raises(OnboardingError, match="secret"):
        issue_form_token("", T0)
