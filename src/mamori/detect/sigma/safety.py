"""Guards against regular expressions that cannot be run safely.

Python's ``re`` backtracks, so a pattern with a repeated group that itself repeats
(``(a+)+``, ``(\\w+\\s?)*``) can take exponential time on a crafted value. Such patterns are
refused when a rule is loaded (the rule is reported and skipped). Every regular expression is
also run on at most :data:`MAX_REGEX_INPUT` characters of a value, which bounds the remaining
polynomial cases (``.*a.*b.*c``) on huge fields.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from sigma.exceptions import SigmaValueError

sre_constants: Any = importlib.import_module("re._constants")  # the parser behind re.compile
sre_parse: Any = importlib.import_module("re._parser")

MAX_REGEX_INPUT = 65536
"""Characters of a value a regular expression looks at (Windows command lines are < 32 Ki)."""

_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
_POSSESSIVE = getattr(sre_constants, "POSSESSIVE_REPEAT", None)


def python_flags(flags: str) -> int:
    value = 0
    if "i" in flags:
        value |= re.IGNORECASE
    if "m" in flags:
        value |= re.MULTILINE
    if "s" in flags:
        value |= re.DOTALL
    return value


def _contains_unbounded_repeat(items: Any) -> bool:
    for op, av in items:
        if op in _REPEATS:
            low, high, sub = av
            if high is sre_constants.MAXREPEAT or high > 16:
                return True
            if _contains_unbounded_repeat(sub):
                return True
        elif op is sre_constants.SUBPATTERN:
            if _contains_unbounded_repeat(av[-1]):
                return True
        elif op is sre_constants.BRANCH:
            if any(_contains_unbounded_repeat(branch) for branch in av[1]):
                return True
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT) and _contains_unbounded_repeat(
            av[1]
        ):
            return True
    return False


def _nested_repeat(items: Any) -> bool:
    for op, av in items:
        if op in _REPEATS:
            low, high, sub = av
            if (high is sre_constants.MAXREPEAT or high > 16) and _contains_unbounded_repeat(sub):
                return True
            if _nested_repeat(sub):
                return True
        elif op is sre_constants.SUBPATTERN:
            if _nested_repeat(av[-1]):
                return True
        elif op is sre_constants.BRANCH:
            if any(_nested_repeat(branch) for branch in av[1]):
                return True
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT) and _nested_repeat(av[1]):
            return True
    return False


def check_regex(pattern: str, flags: str = "") -> None:
    """Raise :class:`SigmaValueError` for a pattern that does not compile or may backtrack
    exponentially (a repeated group containing an unbounded repeat)."""
    try:
        re.compile(pattern, python_flags(flags))
    except re.error as exc:
        raise SigmaValueError(f"regular expression {pattern!r} does not compile: {exc}") from None
    except (OverflowError, RecursionError) as exc:
        raise SigmaValueError(f"regular expression {pattern!r} is too complex: {exc}") from None
    try:
        parsed = sre_parse.parse(pattern, python_flags(flags))
    except Exception as exc:  # pragma: no cover - compile succeeded above
        raise SigmaValueError(f"regular expression {pattern!r}: {exc}") from None
    if _nested_repeat(list(parsed)):
        raise SigmaValueError(
            f"regular expression {pattern!r} nests unbounded repetitions "
            "(catastrophic backtracking risk); rule refused"
        )


__all__ = ["MAX_REGEX_INPUT", "check_regex", "python_flags"]
