"""The pack as a service: courses, quotes with consumption tax, the IT subsidy, the included
cyber insurance, お助け隊 conformance, course recommendation and onboarding.

Everything here is pure: data comes from versioned YAML package data (``data/``), amounts
are integer yen, and nothing touches storage or the network. The quote PDF lives in
:mod:`mamori.service.pdf` (imported on demand: it needs reportlab).
"""

from mamori.service.catalog import (
    Campaign,
    Course,
    PriceBook,
    check_devices,
    check_months,
    load_price_book,
)
from mamori.service.errors import (
    NoSubsidyRulesError,
    OnboardingError,
    ServiceDataError,
    UnknownCourseError,
)
from mamori.service.insurance import (
    Claim,
    ClaimPayout,
    InsuranceTerms,
    LossItem,
    calculate_claim,
    load_claim_file,
    load_insurance_terms,
    parse_claim,
)
from mamori.service.otasuketai import ConformanceReport, check_otasuketai
from mamori.service.quote import (
    LineItem,
    Quote,
    QuoteDocument,
    build_quote,
    consumption_tax,
    format_quote_number,
    issue_quote,
)
from mamori.service.recommend import NetworkSize, Recommendation, recommend_course
from mamori.service.subsidy import (
    SubsidyAssessment,
    SubsidyRequest,
    SubsidyRule,
    SubsidyRules,
    assess_subsidy,
    load_subsidy_rules,
)
from mamori.service.text import Text

__all__ = [
    "Campaign",
    "Claim",
    "ClaimPayout",
    "ConformanceReport",
    "Course",
    "InsuranceTerms",
    "LineItem",
    "LossItem",
    "NetworkSize",
    "NoSubsidyRulesError",
    "OnboardingError",
    "PriceBook",
    "Quote",
    "QuoteDocument",
    "Recommendation",
    "ServiceDataError",
    "SubsidyAssessment",
    "SubsidyRequest",
    "SubsidyRule",
    "SubsidyRules",
    "Text",
    "UnknownCourseError",
    "assess_subsidy",
    "build_quote",
    "calculate_claim",
    "check_devices",
    "check_months",
    "check_otasuketai",
    "consumption_tax",
    "format_quote_number",
    "issue_quote",
    "load_claim_file",
    "load_insurance_terms",
    "load_price_book",
    "load_subsidy_rules",
    "parse_claim",
    "recommend_course",
]
