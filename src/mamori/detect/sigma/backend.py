# ruff: noqa: ARG002  (methods implement pySigma Backend hooks with fixed signatures)
"""Our pySigma backend: Sigma conditions -> a small JSON-able intermediate form (IR).

The IR is what the compiled-rule cache stores (plain JSON, never pickled objects) and what
:mod:`mamori.detect.sigma.matcher` turns into Python predicates. Nodes are lists:

=====================================  ===================================================
``["and", [n...]]`` ``["or", [n...]]``  boolean structure; ``["not", n]``
``["true"]`` ``["false"]``              constants (empty AND / OR)
``["str", op, field, lit, cased]``      op: ``eq`` ``contains`` ``startswith`` ``endswith``;
                                        ``lit`` lower-cased unless ``cased``
``["glob", field, pattern, cased, lit]`` wildcard pattern (``*``/``?`` already turned into a
                                        regular expression matched in full; ``lit`` its
                                        longest fixed run)
``["re", field, pattern, flags]``       Sigma ``re``: searched, flags ``i`` ``m`` ``s``
``["num", field, number]``              number equality (compared as text and as number)
``["bool", field, value]``
``["cmp", field, op, number]``          op: ``lt`` ``lte`` ``gt`` ``gte`` ``neq``
``["cidr", field, network]``
``["null", field]`` ``["exists", field]``
``["fref", field, other, mode]``        mode: ``eq`` ``startswith`` ``endswith``
``["ts", part, number]``                timestamp part of the event time
=====================================  ===================================================

Keyword (field-less) searches use ``field = None``: they match when any field value matches.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import Backend
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaValueError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

from mamori.detect.sigma.safety import check_regex

IR = list[Any]

_CMP = {
    CompareOperators.LT: "lt",
    CompareOperators.LTE: "lte",
    CompareOperators.GT: "gt",
    CompareOperators.GTE: "gte",
    CompareOperators.NEQ: "neq",
}
_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


def string_ir(field: str | None, value: SigmaString, *, cased: bool = False) -> IR:
    """IR for a field compared with a Sigma string (wildcards and escapes honoured)."""
    parts = value.s
    for part in parts:
        if isinstance(part, Placeholder):
            raise SigmaValueError(
                f"placeholder %{part.name}% has no value (give it with hunt --placeholder "
                f"{part.name}=VALUE or --placeholders FILE, or in MAMORI_DETECT_PLACEHOLDERS)"
            )
    multi = SpecialChars.WILDCARD_MULTI
    inner = list(parts)
    lead = bool(inner) and inner[0] is multi
    if lead:
        inner = inner[1:]
    trail = bool(inner) and inner[-1] is multi
    if trail:
        inner = inner[:-1]
    if all(isinstance(p, str) for p in inner):
        lit = "".join(p for p in inner if isinstance(p, str))
        if not cased:
            lit = lit.lower()
        if lead and trail:
            op = "contains"
        elif lead:
            op = "endswith"
        elif trail:
            op = "startswith"
        else:
            op = "eq"
        if lit == "" and op != "eq":
            return ["exists", field] if field is not None else ["true"]
        return ["str", op, field, lit, cased]
    pattern = []
    runs = [""]
    for part in parts:
        if isinstance(part, str):
            runs[-1] += part
        else:
            runs.append("")
    for part in parts:
        if part is multi:
            pattern.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            pattern.append(".")
        else:
            text = str(part)
            pattern.append(re.escape(text if cased else text.lower()))
    longest = max(runs, key=len).lower()
    return ["glob", field, "".join(pattern), cased, longest]


class MamoriBackend(Backend):
    """Converts Sigma rules into the IR described in the module docstring.

    Subclassing pySigma's :class:`Backend` keeps the pySigma layering: processing pipelines
    do the field mapping, this class only turns condition trees into IR. ``convert_rule``
    returns one IR tree per rule condition.
    """

    name: ClassVar[str] = "mamori python predicates"
    formats: ClassVar[dict[str, str]] = {"default": "JSON-able predicate IR"}
    requires_pipeline: ClassVar[bool] = False

    def __init__(self, processing_pipeline: ProcessingPipeline | None = None) -> None:
        super().__init__(processing_pipeline=processing_pipeline, collect_errors=False)

    # -- structure ---------------------------------------------------------------------
    def convert_condition_as_in_expression(self, cond: Any, state: ConversionState) -> IR:
        return self.convert_condition_or(cond, state)  # pragma: no cover - disabled

    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> IR:
        args = [self.convert_condition(arg, state) for arg in cond.args]
        return ["or", args] if args else ["false"]

    def convert_condition_and(self, cond: ConditionAND, state: ConversionState) -> IR:
        args = [self.convert_condition(arg, state) for arg in cond.args]
        return ["and", args] if args else ["true"]

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> IR:
        return ["not", self.convert_condition(cond.args[0], state)]

    # -- field = value -----------------------------------------------------------------
    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> IR:
        assert isinstance(cond.value, SigmaString)  # noqa: S101 - dispatcher guarantees it
        return string_ir(cond.field, cond.value)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> IR:
        assert isinstance(cond.value, SigmaCasedString)  # noqa: S101
        return string_ir(cond.field, cond.value, cased=True)

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> IR:
        assert isinstance(cond.value, SigmaNumber)  # noqa: S101
        return ["num", cond.field, cond.value.number]

    def convert_condition_field_eq_val_timestamp_part(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> IR:
        assert isinstance(cond.value, SigmaTimestampPart)  # noqa: S101
        return ["ts", cond.value.timestamp_part.name.lower(), cond.value.number]

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> IR:
        assert isinstance(cond.value, SigmaBool)  # noqa: S101
        return ["bool", cond.field, cond.value.boolean]

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> IR:
        return self._re(cond.field, cond.value)

    def _re(self, field: str | None, value: Any) -> IR:
        assert isinstance(value, SigmaRegularExpression)  # noqa: S101
        pattern = str(value.regexp)
        flags = "".join(sorted(_RE_FLAGS[f] for f in value.flags))
        check_regex(pattern, flags)
        return ["re", field, pattern, flags]

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> IR:
        assert isinstance(cond.value, SigmaCIDRExpression)  # noqa: S101
        return ["cidr", cond.field, str(cond.value.network)]

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> IR:
        assert isinstance(cond.value, SigmaCompareExpression)  # noqa: S101
        return ["cmp", cond.field, _CMP[cond.value.op], cond.value.number.number]

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> IR:
        value = cond.value
        assert isinstance(value, SigmaFieldReference)  # noqa: S101
        mode = "startswith" if value.starts_with else "endswith" if value.ends_with else "eq"
        return ["fref", cond.field, value.field, mode]

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> IR:
        return ["null", cond.field]

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> IR:
        return ["exists", cond.field]

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> IR:
        return ["not", ["exists", cond.field]]

    def convert_condition_field_eq_query_expr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> IR:
        raise SigmaValueError("query expressions are not supported by the mamori backend")

    def convert_condition_field_eq_expansion(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> IR:
        assert isinstance(cond.value, SigmaExpansion)  # noqa: S101
        parts = [
            self.convert_condition_field_eq_val(
                ConditionFieldEqualsValueExpression(cond.field, value), state
            )
            for value in cond.value.values
        ]
        return ["or", parts]

    # -- keywords (no field) -------------------------------------------------------------
    def convert_condition_val_str(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> IR:
        value = cond.value
        assert isinstance(value, SigmaString)  # noqa: S101
        cased = isinstance(value, SigmaCasedString)
        # A keyword is a full-text search: it matches anywhere inside a value.
        if not value.startswith(SpecialChars.WILDCARD_MULTI):
            value = SpecialChars.WILDCARD_MULTI + value
        if not value.endswith(SpecialChars.WILDCARD_MULTI):
            value = value + SpecialChars.WILDCARD_MULTI
        return string_ir(None, value, cased=cased)

    def convert_condition_val_num(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> IR:
        assert isinstance(cond.value, SigmaNumber)  # noqa: S101
        return ["str", "contains", None, str(cond.value.number), False]

    def convert_condition_val_re(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> IR:
        return self._re(None, cond.value)

    def convert_condition_query_expr(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> IR:
        raise SigmaValueError("query expressions are not supported by the mamori backend")

    def convert_condition_val(self, cond: ConditionValueExpression, state: ConversionState) -> IR:
        if isinstance(cond.value, SigmaExpansion):
            return [
                "or",
                [
                    self.convert_condition_val(ConditionValueExpression(v), state)
                    for v in cond.value.values
                ],
            ]
        result: IR = super().convert_condition_val(cond, state)
        return result

    # -- correlations: compiled by mamori.detect.correlate, not by the backend -------------
    def convert_correlation_event_count_rule(self, *args: Any, **kwargs: Any) -> Any:
        raise SigmaValueError("correlation rules are compiled by mamori's correlator")

    def convert_correlation_value_count_rule(self, *args: Any, **kwargs: Any) -> Any:
        raise SigmaValueError("correlation rules are compiled by mamori's correlator")

    def convert_correlation_temporal_rule(self, *args: Any, **kwargs: Any) -> Any:
        raise SigmaValueError("correlation rules are compiled by mamori's correlator")

    def convert_correlation_temporal_ordered_rule(self, *args: Any, **kwargs: Any) -> Any:
        raise SigmaValueError("correlation rules are compiled by mamori's correlator")

    def convert_correlation_extended_temporal_rule(self, *args: Any, **kwargs: Any) -> Any:
        raise SigmaValueError("correlation rules are compiled by mamori's correlator")

    def convert_correlation_extended_temporal_ordered_rule(self, *args: Any, **kwargs: Any) -> Any:
        raise SigmaValueError("correlation rules are compiled by mamori's correlator")

    def convert_correlation_value_sum_rule(self, *args: Any, **kwargs: Any) -> Any:
        raise SigmaValueError("correlation rules are compiled by mamori's correlator")

    def convert_correlation_value_avg_rule(self, *args: Any, **kwargs: Any) -> Any:
        raise SigmaValueError("correlation rules are compiled by mamori's correlator")

    def convert_correlation_value_percentile_rule(self, *args: Any, **kwargs: Any) -> Any:
        raise SigmaValueError("correlation rules are compiled by mamori's correlator")

    def convert_correlation_value_median_rule(self, *args: Any, **kwargs: Any) -> Any:
        raise SigmaValueError("correlation rules are compiled by mamori's correlator")

    # -- per rule ----------------------------------------------------------------------
    def finalize_query(
        self,
        rule: SigmaRule | SigmaCorrelationRule,
        query: Any,
        index: int,
        state: ConversionState,
        output_format: str,
    ) -> Any:
        return query

    def finalize_output_default(self, queries: list[Any]) -> Any:
        return queries


__all__ = ["IR", "MamoriBackend", "string_ir"]
