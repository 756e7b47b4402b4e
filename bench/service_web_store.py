"""Stored quotes on SQLite: numbered quote creation (sequential and with 4 writers at once),
PDF re-rendering from the stored inputs, and a whole onboarding case.

Run: .venv/bin/python bench/service_web_store.py  (prints figures; no assertions on speed)
"""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from argon2 import PasswordHasher

from mamori.service import onboarding as flow
from mamori.service.inputs import QuoteInputs
from mamori.service.pdf import render_quote_pdf
from mamori.service.recommend import NetworkSize
from mamori.store.db import Database
from mamori.store.repos import service as repo


def _report(name: str, n: int, elapsed: float) -> None:
    print(f"{name:<40} {n:>5} runs  {elapsed * 1e3 / n:>8.2f} ms/run  {n / elapsed:>8.0f} /s")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.upgrade()
        n = 300
        start = time.perf_counter()
        for i in range(n):
            with db.session() as s:
                repo.create_quote(
                    s,
                    inputs=QuoteInputs("network", 1 + i % 100, subsidy_year=2025),
                    issue_date=date(2026, 5, 1),
                    customer="bench",
                    actor="bench",
                )
        _report("create quote (1 writer)", n, time.perf_counter() - start)

        writers, per = 4, 75
        numbers: list[str] = []

        def work() -> None:
            for _ in range(per):
                with db.session() as s:
                    row = repo.create_quote(
                        s,
                        inputs=QuoteInputs("endpoint", 5),
                        issue_date=date(2027, 5, 1),
                        customer="bench",
                        actor="bench",
                    )
                    numbers.append(row.number)

        threads = [threading.Thread(target=work) for _ in range(writers)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        _report(f"create quote ({writers} writers at once)", writers * per, elapsed)
        expected = {f"Q-2027-{k:05d}" for k in range(1, writers * per + 1)}
        print(f"  numbers unique and gap-free: {set(numbers) == expected}")

        with db.session() as s:
            rows = repo.list_quotes(s, limit=50)
            start = time.perf_counter()
            for row in rows:
                render_quote_pdf(repo.quote_document(row))
            _report("re-render stored quote PDF", len(rows), time.perf_counter() - start)

        hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        cases = 30
        start = time.perf_counter()
        for i in range(cases):
            with db.session() as s:
                row = repo.open_case(
                    s, inquiry=flow.Inquiry(f"会社{i}", "担当", "a@example.jp", "相談"), actor="web"
                )
                notes = flow.MeetingNotes(date(2026, 5, 1), ("a",), "n", 10, NetworkSize.SMALL)
                repo.record_meeting(s, row=row, notes=notes, actor="op")
                repo.propose(s, row=row, actor="op")
                repo.quote_case(s, row=row, actor="op", issue_date=date(2026, 5, 2))
                repo.sign_contract(
                    s,
                    row=row,
                    actor="op",
                    signed_on=date(2026, 5, 3),
                    start_date=date(2026, 6, 1),
                    devices=10,
                )
                repo.provision(
                    s,
                    row=row,
                    hasher=hasher,
                    actor="op",
                    tenant_slug=f"bench-{i}",
                    admin_username=f"bench-admin-{i}",
                    admin_email="a@example.jp",
                )
        _report("onboarding case, inquiry to tenant", cases, time.perf_counter() - start)
        db.dispose()


if __name__ == "__main__":
    main()
