"""Throughput of the service computations: quotes, subsidy, claims, recommendation, PDF.

Run: .venv/bin/python bench/service_quote.py  (prints figures; no assertions on speed)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

from mamori.service.insurance import LossItem, calculate_claim
from mamori.service.pdf import render_quote_pdf
from mamori.service.quote import build_quote, issue_quote
from mamori.service.recommend import recommend_course
from mamori.service.subsidy import SubsidyRequest


def measure(name: str, fn: Callable[[int], object], n: int) -> None:
    fn(0)  # warm caches (data files, font registration)
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    elapsed = time.perf_counter() - start
    print(f"{name:<34} {n:>6} runs  {elapsed * 1e6 / n:>10.1f} us/run  {n / elapsed:>10.0f} /s")


def main() -> None:
    request = SubsidyRequest(2025, small_business=True, security_action=True)
    measure("quote (no subsidy)", lambda i: build_quote("network", 1 + i % 100, 24), 20_000)
    measure(
        "quote + 2025 subsidy",
        lambda i: build_quote("small-network", 1 + i % 15, 12 + i % 24, subsidy=request),
        20_000,
    )
    items = [
        LossItem("damages", 400_000),
        LossItem("investigation", 200_000),
        LossItem("damage_spread_prevention", 300_000),
        LossItem("cyber_attack_investigation", 123_457),
    ]
    measure("insurance claim (4 items)", lambda i: calculate_claim(1 + i % 20, items), 20_000)
    measure(
        "recommendation (5 gaps)",
        lambda i: recommend_course(1 + i % 100, "small", [103, 138, 142, 148, 1]),
        20_000,
    )
    document = issue_quote(
        build_quote("small-network", 10, 24, subsidy=request),
        number="Q-2026-00001",
        issue_date=date(2026, 4, 1),
        customer="株式会社みほん部品",
    )
    measure("quote PDF (ja)", lambda _i: render_quote_pdf(document), 100)


if __name__ == "__main__":
    main()
