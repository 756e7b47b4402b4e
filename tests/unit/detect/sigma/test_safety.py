from __future__ import annotations

import pytest
from sigma.exceptions import SigmaValueError

from mamori.detect.sigma.safety import check_regex


@pytest.mark.parametrize(
    "pattern", ["(a+)+$", "(a*)*b", "(\\w+\\s?)+$", "((ab)*c)+", "(?:x|y+)+z", "(a{1,100})+"]
)
def test_nested_quantifiers_refused(pattern):
    with pytest.raises(SigmaValueError, match="catastrophic"):
        check_regex(pattern)


@pytest.mark.parametrize(
    "pattern",
    ["abc.*def", "(ab|cd){2,5}", "[a-z]+\\.(exe|dll)", "^\\s*(?:cmd|powershell)\\.exe", "(a{2})+"],
)
def test_ordinary_patterns_allowed(pattern):
    check_regex(pattern)


def test_uncompilable_pattern():
    with pytest.raises(SigmaValueError, match="does not compile"):
        check_regex("(unclosed")
