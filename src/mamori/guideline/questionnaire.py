"""Target level from a short questionnaire (the Lv2 / Lv3 criteria of JAMA/JAPIA 2.3).

Level 1 applies to every company. Level 2 applies when the company handles other companies'
confidential information, holds important technology, or has significant scale. Level 3
applies to companies that represent and lead the industry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mamori.errors import ValidationError
from mamori.guideline.assessment import normalise_text


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    level: int
    text_ja: str
    text_en: str


QUESTIONS: tuple[Question, ...] = (
    Question(
        "handles_confidential",
        2,
        "取引先など他社の機密情報（図面、仕様、生産計画など）を預かって扱っていますか。",
        "Do you handle other companies' confidential information (drawings, specs, plans)?",
    ),
    Question(
        "important_technology",
        2,
        "自社に重要な技術情報（独自の設計・製造技術など）がありますか。",
        "Do you hold important technology of your own (design or manufacturing know-how)?",
    ),
    Question(
        "significant_scale",
        2,
        "事業規模が大きく、被害が取引先やサプライチェーンに広く及ぶ立場ですか。",
        "Is your business large enough that an incident would spread along the supply chain?",
    ),
    Question(
        "industry_leader",
        3,
        "業界を代表し、牽引する立場の会社ですか。",
        "Does your company represent and lead the industry?",
    ),
)

_YES = {"yes", "y", "true", "1", "はい", "有", "あり", "該当"}
_NO = {"no", "n", "false", "0", "いいえ", "無", "なし", "非該当"}


@dataclass(frozen=True, slots=True)
class TargetLevel:
    level: int
    reasons: tuple[Question, ...]  # the questions answered "yes" that raised the level
    unanswered: tuple[str, ...]

    def explain(self, lang: str = "ja") -> str:
        if not self.reasons:
            if lang == "en":
                return "Level 1: every company must meet it."
            return "レベル1：すべての会社が満たすべき水準です。"
        texts = [q.text_en if lang == "en" else q.text_ja for q in self.reasons]
        if lang == "en":
            return f"Level {self.level} because: " + " / ".join(texts)
        return f"レベル{self.level}：次の回答によります。" + " / ".join(texts)


def _yes(value: Any, qid: str) -> bool:
    if isinstance(value, bool):
        return value
    text = normalise_text(value).lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValidationError(f"question {qid}: answer {value!r} is not yes/no (はい/いいえ)")


def target_level(answers: Mapping[str, Any]) -> TargetLevel:
    """The level a company should target, from yes/no answers keyed by question id.

    Raises:
        ValidationError: an unknown question id or an answer that is not yes/no.
    """
    known = {q.id: q for q in QUESTIONS}
    for key in answers:
        if key not in known:
            raise ValidationError(f"unknown question {key!r} (known: {', '.join(known)})")
    level = 1
    reasons: list[Question] = []
    for q in QUESTIONS:
        if q.id in answers and _yes(answers[q.id], q.id):
            reasons.append(q)
            level = max(level, q.level)
    reasons = [q for q in reasons if q.level == level]
    return TargetLevel(
        level=level,
        reasons=tuple(reasons),
        unanswered=tuple(q.id for q in QUESTIONS if q.id not in answers),
    )


__all__ = ["QUESTIONS", "Question", "TargetLevel", "target_level"]
