"""``mamori quote``, ``mamori insurance``, ``mamori courses``, ``mamori recommend``.

Thin wrappers over :mod:`mamori.service`; the web layer calls the same functions.
Bad input exits 1 with a one-line ``error: ...`` on stderr (2 for malformed options).
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from mamori.errors import MamoriError, ValidationError
from mamori.service.catalog import load_price_book
from mamori.service.gaps import gaps_from_assessment, gaps_from_checksheet
from mamori.service.insurance import ClaimPayout, calculate_claim, load_claim_file
from mamori.service.otasuketai import check_otasuketai
from mamori.service.quote import Quote, build_quote, format_quote_number, issue_quote
from mamori.service.recommend import recommend_course
from mamori.service.subsidy import SubsidyRequest
from mamori.service.text import Lang, Text, check_lang, yen


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{option} must be a date YYYY-MM-DD (got {value!r})") from None


def _emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _console() -> Console:
    return Console(width=110, soft_wrap=False, highlight=False)


_Q = {
    "title": Text("お見積り", "Quote"),
    "item": Text("品目", "Item"),
    "unit": Text("単価", "Unit"),
    "qty": Text("数量", "Qty"),
    "months": Text("月数", "Months"),
    "amount": Text("金額", "Amount"),
    "fees": Text("小計（税抜）", "Fees (tax excluded)"),
    "tax": Text("消費税", "Consumption tax"),
    "total": Text("合計（税込）", "Total (tax included)"),
    "subsidy": Text("IT導入補助金", "IT subsidy"),
    "pays": Text("お客様ご負担額（税込・補助後）", "Customer pays (tax incl., after subsidy)"),
    "reason": Text("補助対象外の理由", "Why no subsidy"),
}


def _print_quote(quote: Quote, lang: Lang) -> None:
    console = _console()
    span = Text(
        f"{quote.devices}台・{quote.months}か月", f"{quote.devices} devices, {quote.months} months"
    )
    title = f"{_Q['title'].get(lang)}: {quote.course.name.get(lang)} ({span.get(lang)})"
    if quote.campaign:
        title += " " + Text("キャンペーン価格", "campaign price").get(lang)
    table = Table(title=title)
    for key in ("item", "unit", "qty", "months", "amount"):
        table.add_column(
            _Q[key].get(lang), justify="left" if key == "item" else "right", overflow="fold"
        )
    for item in quote.line_items:
        table.add_row(
            item.name.get(lang),
            f"{item.unit_price:,}",
            str(item.quantity),
            "-" if item.months is None else str(item.months),
            f"{item.amount:,}",
        )
    table.add_section()
    table.add_row(_Q["fees"].get(lang), "", "", "", f"{quote.fees_total:,}")
    table.add_row(f"{_Q['tax'].get(lang)} {quote.tax_percent}%", "", "", "", f"{quote.tax:,}")
    table.add_row(_Q["total"].get(lang), "", "", "", f"{quote.tax_included_total:,}")
    year = quote.subsidy.fiscal_year
    subsidy_label = _Q["subsidy"].get(lang) + (f" FY{year}" if year else "")
    table.add_row(
        subsidy_label, "", "", "", f"-{quote.subsidy.amount:,}" if quote.subsidy.amount else "0"
    )
    table.add_row(_Q["pays"].get(lang), "", "", "", f"{quote.customer_pays_tax_included:,}")
    console.print(table)
    reason = quote.subsidy.reason
    if quote.subsidy.amount == 0 and reason is not None:
        console.print(f"{_Q['reason'].get(lang)}: {reason.get(lang)}")


def quote_command(
    course: Annotated[str, typer.Option(help="endpoint | small-network | network")],
    devices: Annotated[int, typer.Option(help="Number of devices (licences).")],
    months: Annotated[
        int | None, typer.Option(help="Months to quote (default 24, the subsidy's 2 years).")
    ] = None,
    campaign: Annotated[bool, typer.Option("--campaign", help="Use the campaign price.")] = False,
    subsidy_year: Annotated[
        int | None, typer.Option(help="Fiscal year of the IT subsidy rules (2024, 2025).")
    ] = None,
    small_business: Annotated[
        bool, typer.Option("--small-business", help="小規模事業者 (2/3 rate in 2025).")
    ] = False,
    security_action: Annotated[
        bool,
        typer.Option(
            "--security-action/--no-security-action",
            help="Whether the customer makes the SECURITY ACTION declaration (2025 needs it).",
        ),
    ] = True,
    contract_date: Annotated[
        str | None, typer.Option(help="Contract date YYYY-MM-DD, when already signed.")
    ] = None,
    grant_decision_date: Annotated[
        str | None, typer.Option(help="Grant decision date YYYY-MM-DD, when known.")
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = (
        OutputFormat.TABLE
    ),
    lang: Annotated[str, typer.Option(help="ja or en")] = "ja",
    pdf: Annotated[Path | None, typer.Option(help="Also write the quote as a PDF here.")] = None,
    customer: Annotated[str, typer.Option(help="Customer name on the PDF.")] = "お客様",
    number: Annotated[
        str | None, typer.Option(help="Quote number Q-YYYY-NNNNN (default: sequence 1).")
    ] = None,
    quote_date: Annotated[
        str | None, typer.Option("--date", help="Quote date YYYY-MM-DD (default today).")
    ] = None,
    valid_days: Annotated[int | None, typer.Option(help="Days the quote is valid.")] = None,
) -> None:
    """見積り: line items, tax, IT subsidy and what the customer pays (integer yen)."""
    try:
        language = check_lang(lang)
        day = _date(quote_date, "--date") or date.today()
        request = None
        if subsidy_year is not None:
            request = SubsidyRequest(
                fiscal_year=subsidy_year,
                small_business=small_business,
                security_action=security_action,
                contract_date=_date(contract_date, "--contract-date"),
                grant_decision_date=_date(grant_decision_date, "--grant-decision-date"),
            )
        quote = build_quote(
            course, devices, months, campaign=campaign, subsidy=request, quote_date=day
        )
        pdf_path = None
        if pdf is not None:
            try:
                from mamori.service.pdf import write_quote_pdf  # needs reportlab: on demand
            except ImportError as exc:
                _fail(f"writing a PDF needs reportlab ({exc})")

            document = issue_quote(
                quote,
                number=number or format_quote_number(day.year, 1),
                issue_date=day,
                customer=customer,
                valid_days=valid_days,
            )
            pdf_path = write_quote_pdf(document, pdf, lang=language)
    except MamoriError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write {pdf}: {exc.strerror or exc}")
    if output is OutputFormat.JSON:
        data = quote.to_dict(language)
        if pdf_path is not None:
            data["pdf"] = str(pdf_path)
        _emit_json(data)
    else:
        _print_quote(quote, language)
        if pdf_path is not None:
            typer.echo(f"PDF: {pdf_path}")


_I = {
    "title": Text("保険金の試算", "Insurance claim"),
    "category": Text("損害区分", "Category"),
    "claimed": Text("損害額", "Loss"),
    "rate": Text("支払割合", "Rate"),
    "covered": Text("割合適用後", "After rate"),
    "paid": Text("支払額", "Paid"),
    "limited": Text("制限", "Limited by"),
    "total": Text("合計", "Total"),
    "limit": Text("支払限度額（1事故・期間）", "Limit (per event and period)"),
    "bound": Text("適用された限度額", "Limit that bound the claim"),
    "none": Text("なし（全額支払）", "none (paid in full after rates)"),
}


def _print_payout(payout: ClaimPayout, lang: Lang) -> None:
    console = _console()
    console.print(
        f"{_I['limit'].get(lang)}: {payout.total_limit.name.get(lang)} = "
        f"{yen(payout.total_limit.amount)}"
    )
    table = Table(title=_I["title"].get(lang))
    for key in ("category", "claimed", "rate", "covered", "paid", "limited"):
        table.add_column(_I[key].get(lang), justify="left" if key == "category" else "right")
    for item in payout.items:
        table.add_row(
            item.category.name.get(lang),
            f"{item.claimed:,}",
            f"{item.category.rate_percent}%",
            f"{item.covered:,}",
            f"{item.paid:,}",
            item.limited_by or "-",
        )
    table.add_section()
    table.add_row(
        _I["total"].get(lang),
        f"{payout.claimed_total:,}",
        "",
        f"{payout.covered_total:,}",
        f"{payout.paid_total:,}",
        "",
    )
    console.print(table)
    bound = payout.bound_by
    console.print(
        f"{_I['bound'].get(lang)}: "
        + (f"{bound.code} - {bound.name.get(lang)}" if bound else _I["none"].get(lang))
    )


def insurance_command(
    devices: Annotated[int, typer.Option(help="Licensed devices (endpoint protection).")],
    claim: Annotated[Path, typer.Option(help="Claim as JSON: {'items': [...]}")],
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = (
        OutputFormat.TABLE
    ),
    lang: Annotated[str, typer.Option(help="ja or en")] = "ja",
) -> None:
    """保険金の試算: what the included cyber insurance pays per item and in total."""
    try:
        language = check_lang(lang)
        payout = calculate_claim(devices, load_claim_file(claim))
    except MamoriError as exc:
        _fail(str(exc))
    if output is OutputFormat.JSON:
        _emit_json(payout.to_dict(language))
    else:
        _print_payout(payout, language)


def courses_command(
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = (
        OutputFormat.TABLE
    ),
    lang: Annotated[str, typer.Option(help="ja or en")] = "ja",
) -> None:
    """コース一覧: prices, device ranges and お助け隊 (type 1) conformance."""
    try:
        language = check_lang(lang)
        book = load_price_book()
        reports = [check_otasuketai(c, price_book=book) for c in book.courses.values()]
    except MamoriError as exc:
        _fail(str(exc))
    if output is OutputFormat.JSON:
        _emit_json(
            {
                "price_book_version": book.version,
                "tax_percent": book.tax_percent,
                "campaign_per_device_monthly": book.campaign.per_device_monthly,
                "courses": [
                    {**r.course.to_dict(language), "otasuketai": r.to_dict(language)}
                    for r in reports
                ],
            }
        )
        return
    table = Table(title=f"mamori {book.version}")
    for title in (
        "course",
        "name",
        "initial",
        "network/month",
        "device/month",
        "devices",
        "お助け隊",
    ):
        table.add_column(title)
    for r in reports:
        c = r.course
        table.add_row(
            c.id,
            c.name.get(language),
            f"{c.initial_fee:,}",
            f"{c.network_monthly:,}",
            f"{c.per_device_monthly:,}",
            f"{c.min_devices}-{c.max_devices}",
            "OK" if r.conforms else "NG",
        )
    _console().print(table)


def otasuketai_command(
    course: Annotated[str, typer.Option(help="endpoint | small-network | network")],
    campaign: Annotated[bool, typer.Option("--campaign", help="At the campaign price.")] = False,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = (
        OutputFormat.TABLE
    ),
    lang: Annotated[str, typer.Option(help="ja or en")] = "ja",
) -> None:
    """お助け隊適合: type-1 price caps and required elements, with how the pack meets each."""
    try:
        language = check_lang(lang)
        report = check_otasuketai(course, campaign=campaign)
    except MamoriError as exc:
        _fail(str(exc))
    if output is OutputFormat.JSON:
        _emit_json(report.to_dict(language))
        return
    console = _console()
    verdict = Text("適合", "conforms") if report.conforms else Text("不適合", "does not conform")
    console.print(f"{report.course.name.get(language)}: {verdict.get(language)}")
    prices = Table(title=Text("価格要件（1類）", "Price caps (type 1)").get(language))
    prices.add_column("")
    prices.add_column(Text("上限", "cap").get(language), justify="right")
    prices.add_column(Text("本コース", "this course").get(language), justify="right")
    prices.add_column("")
    for check in report.prices:
        actual = "-" if check.actual is None else f"{check.actual:,}"
        ok = "OK" if check.ok else "NG"
        prices.add_row(check.name.get(language), f"{check.cap:,}", actual, ok)
    console.print(prices)
    elements = Table(title=Text("必須要素", "Required elements").get(language))
    elements.add_column("")
    elements.add_column("")
    elements.add_column(Text("対応方法", "How the pack meets it").get(language), overflow="fold")
    for element in report.elements:
        elements.add_row(
            element.element.name.get(language),
            "OK" if element.met else "NG: " + ", ".join(element.missing),
            element.element.how.get(language),
        )
    console.print(elements)


def recommend_command(
    devices: Annotated[int, typer.Option(help="Number of devices.")],
    network: Annotated[str, typer.Option(help="none | small | large")] = "none",
    gaps: Annotated[
        str, typer.Option(help="Open guideline item numbers, comma separated (e.g. 103,142).")
    ] = "",
    sheet: Annotated[
        Path | None,
        typer.Option(help="A filled JAMA/JAPIA check sheet (.xlsx): its unmet items are the gaps."),
    ] = None,
    assessment: Annotated[
        Path | None,
        typer.Option(help="An assessment file (mamori assess): its unmet items are the gaps."),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = (
        OutputFormat.TABLE
    ),
    lang: Annotated[str, typer.Option(help="ja or en")] = "ja",
) -> None:
    """コースの提案: from device count, network size and open guideline items."""
    try:
        language = check_lang(lang)
        if sum(bool(x) for x in (gaps.strip(), sheet, assessment)) > 1:
            raise ValidationError("give only one of --gaps, --sheet and --assessment")
        gap_set = None
        if sheet is not None:
            if not sheet.is_file():
                raise ValidationError(f"no such check sheet: {sheet}")
            gap_set = gaps_from_checksheet(sheet)
        elif assessment is not None:
            from mamori.guideline.assessment import load_assessment

            gap_set = gaps_from_assessment(load_assessment(assessment))
        items: list[object] = [g.strip() for g in gaps.split(",") if g.strip()]
        result = recommend_course(devices, network, gap_set.gaps if gap_set else items)
    except MamoriError as exc:
        _fail(str(exc))
    if output is OutputFormat.JSON:
        data = result.to_dict(language)
        if gap_set is not None:
            data["gap_source"] = {k: v for k, v in gap_set.to_dict().items() if k != "gaps"}
        _emit_json(data)
        return
    typer.echo(f"{result.course.id}: {result.course.name.get(language)}")
    if gap_set is not None:
        typer.echo(f"  ({gap_set.describe_source().get(language)})")
    for reason in result.reasons:
        typer.echo(f"  - {reason.get(language)}")
    if result.remaining_gaps:
        typer.echo("  remaining: " + ", ".join(str(g) for g in result.remaining_gaps))


def register(app: typer.Typer) -> None:
    """Add the service commands to the ``mamori`` CLI."""
    app.command("quote")(quote_command)
    app.command("insurance")(insurance_command)
    app.command("courses")(courses_command)
    app.command("otasuketai")(otasuketai_command)
    app.command("recommend")(recommend_command)


__all__ = ["register"]
