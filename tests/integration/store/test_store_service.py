"""Service storage: quote numbers under concurrency, the onboarding flow, provisioning.

The same checks run on SQLite (every run) and on a real PostgreSQL server (``db`` marker).
"""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select

from mamori.errors import DuplicateError, NotFoundError, ValidationError
from mamori.service import onboarding as flow
from mamori.service.errors import OnboardingError, ServiceDataError
from mamori.service.inputs import QuoteInputs
from mamori.service.recommend import NetworkSize
from mamori.store.db import Database, current_revisions, head_revisions
from mamori.store.passwords import make_hasher, verify_password
from mamori.store.repos import audit, users
from mamori.store.repos import service as repo
from mamori.store.tables import AuditLog, Base, ContractRow, QuoteRow, Role

DAY = date(2026, 11, 2)


def _inquiry(company: str = "株式会社テスト部品") -> flow.Inquiry:
    return flow.Inquiry(company, "山田 太郎", "yamada@example.jp", "導入の相談です", "", 12)


def _to_contract(s, *, devices: int = 12) -> object:
    row = repo.open_case(s, inquiry=_inquiry(), actor="web-form")
    notes = flow.MeetingNotes(DAY, ("山田", "op-a"), "UTMも検討", devices, NetworkSize.SMALL)
    repo.record_meeting(s, row=row, notes=notes, actor="op-a")
    repo.propose(s, row=row, actor="op-a")
    repo.quote_case(s, row=row, actor="op-a", issue_date=DAY, subsidy_year=2025)
    repo.sign_contract(
        s,
        row=row,
        actor="op-a",
        signed_on=DAY + timedelta(days=3),
        start_date=date(2026, 12, 1),
        devices=devices,
        grant_decision_date=DAY + timedelta(days=1),
    )
    return row


def _concurrent_numbers(database: Database, year: int, count: int = 2) -> list[str]:
    """``count`` threads each store a quote at the same moment; their numbers."""
    barrier = threading.Barrier(count)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with database.session() as s:
                barrier.wait(timeout=30)
                row = repo.create_quote(
                    s,
                    inputs=QuoteInputs("endpoint", 3 + n),
                    issue_date=date(year, 5, 1),
                    customer=f"顧客{n}",
                    actor=f"t{n}",
                )
                numbers.append(row.number)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    return numbers


def _check_numbering(database: Database) -> None:
    numbers = _concurrent_numbers(database, 2026)
    assert sorted(numbers) == ["Q-2026-00001", "Q-2026-00002"]
    with database.session() as s:
        assert repo.allocate_quote_number(s, year=2026) == (3, "Q-2026-00003")
        assert repo.allocate_quote_number(s, year=2027)[1] == "Q-2027-00001"
    # a rolled-back quote gives its number back: no gap
    s = database.sessionmaker()
    try:
        repo.create_quote(
            s,
            inputs=QuoteInputs("network", 40),
            issue_date=date(2026, 6, 1),
            customer="x",
            actor="t",
        )
        s.rollback()
    finally:
        s.close()
    with database.session() as s:
        row = repo.create_quote(
            s,
            inputs=QuoteInputs("network", 40),
            issue_date=date(2026, 6, 1),
            customer="y",
            actor="t",
        )
        assert row.number == "Q-2026-00004"


def test_quote_numbers_are_unique_and_gap_free_under_concurrency_on_sqlite(db):
    _check_numbering(db)


def test_quote_stores_inputs_figures_and_reproduces_its_document(db):
    with db.session() as s:
        row = repo.create_quote(
            s,
            inputs=QuoteInputs("small-network", 10, months=24, subsidy_year=2024),
            issue_date=DAY,
            customer="株式会社テスト",
            actor="op-a",
            valid_days=14,
        )
        quote_id = row.id
    with db.session() as s:
        row = repo.get_quote(s, quote_id=quote_id)
        # 110,000 + 7,800x24 + 1,800x10x24 = 729,200; tax 72,920; subsidy 364,600
        assert (row.fees_total, row.tax, row.tax_included_total) == (729200, 72920, 802120)
        assert (row.subsidy, row.customer_pays_tax_included) == (364600, 437520)
        assert row.valid_until == DAY + timedelta(days=14)
        document = repo.quote_document(row)
        assert document.number == row.number and document.valid_until == row.valid_until
        entry = audit.list_entries(s, action_prefix="service.quote.create")[0]
        assert entry.target == f"quote:{quote_id}" and entry.detail["fees_total"] == 729200
        # figures that no longer match the inputs (a price change) are refused, not re-priced
        row.figures = {**row.figures, "fees_total": 1}
        with pytest.raises(ServiceDataError, match="cannot be reproduced"):
            repo.quote_document(row)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (QuoteInputs("endpoint", 0), "at least 1"),
        (QuoteInputs("small-network", 16), "over the range"),
        (QuoteInputs("platinum", 5), "unknown course"),
        (QuoteInputs("endpoint", 5, months=0), "months"),
        (QuoteInputs("endpoint", 5, subsidy_year=2019), "no IT subsidy rules"),
    ],
)
def test_bad_quote_inputs_take_no_number(db, inputs, message):
    with db.session() as s, pytest.raises(ValidationError, match=message):
        repo.create_quote(s, inputs=inputs, issue_date=DAY, customer="x", actor="t")
    with db.session() as s:
        assert repo.allocate_quote_number(s, year=DAY.year)[0] == 1


def test_onboarding_flow_is_stored_and_audited_step_by_step(db, settings):
    hasher = make_hasher(settings)
    with db.session() as s:
        row = _to_contract(s)
        case_id = row.id
    with db.session() as s:
        row = repo.get_case(s, case_id=case_id)
        assert row.stage == "contract"
        assert row.proposal["course"] == "small-network"
        contract = s.get(ContractRow, row.contract_id)
        assert (contract.devices, contract.end_date) == (12, date(2027, 11, 30))
        assert contract.subsidy_warning == ""
        result = repo.provision(
            s,
            row=row,
            hasher=hasher,
            actor="op-a",
            tenant_slug="test-buhin",
            admin_username="buhin-admin",
            admin_email="admin@example.jp",
        )
        assert result.created and result.password
        password = result.password
    with db.session() as s:
        row = repo.get_case(s, case_id=case_id)
        assert row.stage == "provisioned" and row.tenant_id == result.tenant.id
        admin = users.get_user_by_username(s, username="buhin-admin")
        assert admin.role_enum is Role.CUSTOMER_ADMIN and admin.tenant_id == row.tenant_id
        assert verify_password(hasher, admin.password_hash, password)
        # the quote and contract now belong to the tenant
        assert {q.tenant_id for q in repo.case_quotes(s, row=row)} == {row.tenant_id}
        assert repo.licensed_devices(s, tenant_id=row.tenant_id, on=date(2026, 12, 1)) == 12
        assert repo.licensed_devices(s, tenant_id=row.tenant_id, on=date(2026, 11, 30)) is None
        actions = [e.action for e in repo.case_history(s, row=row)]
        assert actions == [
            "onboarding.inquiry",
            "onboarding.meeting",
            "onboarding.proposal",
            "onboarding.quote",
            "onboarding.contract",
            "onboarding.provisioning",
            "onboarding.provisioned",
        ]
        assert audit.verify(s).ok
        # again: nothing new, no password
        again = repo.provision(s, row=row, hasher=hasher, actor="op-a")
        assert not again.created and again.password is None
        assert again.tenant.id == row.tenant_id and again.admin.id == admin.id
        assert s.scalar(select(func.count()).select_from(AuditLog)) == len(audit.list_entries(s))
    with db.session() as s:
        n_users = len(users.list_users(s))
        repo.provision(s, row=repo.get_case(s, case_id=case_id), hasher=hasher, actor="x")
        assert len(users.list_users(s)) == n_users


def test_provisioning_a_taken_slug_is_refused_and_changes_nothing(db, settings, world):
    hasher = make_hasher(settings)
    with db.session() as s:
        case_id = _to_contract(s).id
    with db.session() as s, pytest.raises(DuplicateError, match="already exists"):
        repo.provision(
            s,
            row=repo.get_case(s, case_id=case_id),
            hasher=hasher,
            actor="op",
            tenant_slug=world.tenant_a.slug,
            admin_username="someone",
            admin_email="a@example.jp",
        )
    with db.session() as s:
        assert repo.get_case(s, case_id=case_id).stage == "contract"
        assert users.find_user(s, username="someone") is None


def test_steps_out_of_order_and_bad_data_are_refused(db):
    with db.session() as s:
        row = repo.open_case(s, inquiry=_inquiry(), actor="web-form")
        with pytest.raises(OnboardingError, match="cannot propose at stage 'inquiry'"):
            repo.propose(s, row=row, actor="op")
        with pytest.raises(OnboardingError, match="cannot attach a quote"):
            repo.quote_case(s, row=row, actor="op", issue_date=DAY)
        notes = flow.MeetingNotes(DAY, ("a",), "n", 5, NetworkSize.NONE)
        repo.record_meeting(s, row=row, notes=notes, actor="op")
        repo.propose(s, row=row, actor="op")
        repo.quote_case(s, row=row, actor="op", issue_date=DAY)
        with pytest.raises(OnboardingError, match="covers 6 devices"):
            repo.sign_contract(s, row=row, actor="op", signed_on=DAY, start_date=DAY, devices=6)
        with pytest.raises(OnboardingError, match="needs a new quote"):
            repo.sign_contract(
                s,
                row=row,
                actor="op",
                signed_on=DAY + timedelta(days=90),
                start_date=DAY,
                devices=5,
            )
        repo.cancel(s, row=row, reason="見送り", actor="op")
        with pytest.raises(OnboardingError, match="cancel"):
            repo.cancel(s, row=row, reason="again", actor="op")


def test_operator_scope_hides_other_tenants_cases_but_shows_prospects(db, world):
    with db.session() as s:
        prospect = repo.open_case(s, inquiry=_inquiry("見込み"), actor="web-form")
        theirs = repo.open_case(s, inquiry=_inquiry("B社"), actor="web-form")
        theirs.tenant_id = world.tenant_b.id
    with db.session() as s:
        visible = {c.id for c in repo.list_cases(s, tenant_ids=[world.tenant_a.id])}
        assert prospect.id in visible and theirs.id not in visible
        with pytest.raises(NotFoundError):
            repo.get_case(s, case_id=theirs.id, tenant_ids=[world.tenant_a.id])
        assert repo.get_case(s, case_id=theirs.id).id == theirs.id


# --- PostgreSQL --------------------------------------------------------------------------


@pytest.fixture
def pg_db(postgres_url):
    database = Database(postgres_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.mark.db
def test_service_migration_matches_models_on_postgres(pg_db):
    assert any(r.startswith("service_") for r in current_revisions(pg_db.engine))
    assert current_revisions(pg_db.engine) == head_revisions(pg_db.engine)
    names = set(inspect(pg_db.engine).get_table_names())
    assert {"service_cases", "service_quotes", "service_contracts"} <= names
    with pg_db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


@pytest.mark.db
def test_quote_numbering_under_concurrency_on_postgres(pg_db):
    _check_numbering(pg_db)
    numbers = _concurrent_numbers(pg_db, 2030, count=4)
    assert sorted(numbers) == [f"Q-2030-0000{n}" for n in range(1, 5)]
    with pg_db.session() as s:
        assert s.scalar(select(func.count()).select_from(QuoteRow)) == 3 + 4


@pytest.mark.db
def test_onboarding_and_provisioning_on_postgres(pg_db, settings):
    hasher = make_hasher(settings)
    with pg_db.session() as s:
        row = _to_contract(s)
        result = repo.provision(
            s,
            row=row,
            hasher=hasher,
            actor="op",
            tenant_slug="pg-buhin",
            admin_username="pg-admin",
            admin_email="a@example.jp",
        )
        case_id = row.id
    with pg_db.session() as s:
        row = repo.get_case(s, case_id=case_id)
        assert row.stage == "provisioned" and row.tenant_id == result.tenant.id
        assert repo.provision(s, row=row, hasher=hasher, actor="op").created is False
        assert audit.verify(s).ok


def test_the_service_branch_downgrades_and_upgrades_again(db):
    from alembic import command

    from mamori.store.db import _alembic_config

    cfg = _alembic_config(db.engine)
    from alembic.script import ScriptDirectory

    steps = sum(
        1
        for rev in ScriptDirectory.from_config(cfg).walk_revisions()
        if rev.revision.startswith("service_")
    )
    command.downgrade(cfg, f"service@-{steps}")  # every service revision, nothing else
    assert "service_cases" not in inspect(db.engine).get_table_names()
    assert "tenants" in inspect(db.engine).get_table_names()
    db.upgrade()
    assert {"service_cases", "service_quotes", "service_contracts"} <= set(
        inspect(db.engine).get_table_names()
    )
    assert current_revisions(db.engine) == head_revisions(db.engine)


def test_a_price_change_does_not_strand_an_accepted_quote(db, settings):
    with db.session() as s:
        row = repo.open_case(s, inquiry=_inquiry(), actor="web-form")
        notes = flow.MeetingNotes(DAY, ("a",), "n", 4, NetworkSize.NONE)
        repo.record_meeting(s, row=row, notes=notes, actor="op")
        repo.propose(s, row=row, actor="op")
        quote = repo.quote_case(s, row=row, actor="op", issue_date=DAY)
        quote.figures = {**quote.figures, "fees_total": quote.fees_total + 1}  # older prices
        case_id = row.id
    with db.session() as s:
        row = repo.get_case(s, case_id=case_id)
        with pytest.raises(ServiceDataError):
            repo.quote_document(repo.get_quote(s, quote_id=row.quote_id))
        repo.sign_contract(s, row=row, actor="op", signed_on=DAY, start_date=DAY, devices=4)
        result = repo.provision(
            s,
            row=row,
            hasher=make_hasher(settings),
            actor="op",
            tenant_slug="after-price-change",
            admin_username="apc-admin",
            admin_email="a@example.jp",
        )
        assert result.created and row.stage == "provisioned"
