from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.detect.sigma.matcher import (
    compile_predicate,
    fields_of,
    full_haystack,
    prepare,
    prepare_named,
    regex_literals,
    required_literals,
    text_of,
)

T = datetime(2026, 1, 1, tzinfo=UTC)


def run(ir, fields):
    lowered, hay = prepare(fields)
    return compile_predicate(ir)(fields, lowered, hay, T)


def test_prepare_handles_non_string_values():
    fields = {"a": 1, "b": None, "c": True, "d": ["x", 2], "e": {"k": "V"}, "f": b"\xffz", "g": 1.5}
    lowered, hay = prepare(fields)
    assert "b" not in lowered
    assert lowered["a"] == "1" and lowered["c"] == "true" and lowered["g"] == "1.5"
    assert "x" in lowered["d"] and '"k": "v"' in lowered["e"]
    assert text_of(None) is None
    assert hay.count("\n") == len(lowered) - 1


def test_non_string_values_do_not_raise():
    ir = ["and", [["str", "contains", "CommandLine", "abc", False], ["re", "CommandLine", "a", ""]]]
    for value in (None, 12, 1.5, ["abc"], {"abc": 1}, True, b"abc"):
        run(ir, {"CommandLine": value})
    assert run(["str", "contains", "X", "abc", False], {"X": ["zabcz"]})


def test_huge_field_value():
    big = "A" * (10 * 1024 * 1024) + "needle"
    assert run(["str", "endswith", "X", "needle", False], {"X": big})
    assert run(["str", "contains", "X", "needle", False], {"X": big})
    # regexes only look at the first 64 KiB (bounded time)
    assert not run(["re", "X", "needle", ""], {"X": big})
    assert run(["re", "X", "^A+", ""], {"X": big})


def test_required_literals():
    ir = [
        "and",
        [
            ["str", "endswith", "Image", "\\cmd.exe", False],
            ["str", "contains", "CommandLine", "/c", False],
        ],
    ]
    assert required_literals(ir) == frozenset({"\\cmd.exe"})
    assert required_literals(["not", ir]) is None
    orr = ["or", [["str", "eq", "A", "abc", False], ["str", "eq", "B", "defg", False]]]
    assert required_literals(orr) == frozenset({"abc", "defg"})
    assert required_literals(["or", [["str", "eq", "A", "abc", False], ["exists", "B"]]]) is None
    assert required_literals(["str", "contains", "A", "\u2764", False]) == frozenset({"\u2764"})
    assert fields_of(ir) == ["Image", "CommandLine"]


def test_regex_literals():
    assert regex_literals("net\\s+user") == frozenset({"user"})
    assert regex_literals("(?i)(ABCD|efgh)\\d") == frozenset({"abcd", "efgh"})
    assert regex_literals("a(bcd|xy)") is None
    assert regex_literals("[a-z]+") is None
    assert regex_literals("(xyz)?abc") == frozenset({"abc"})
    assert regex_literals("(xyz)*") is None
    # a run of rare symbols is required however short
    assert regex_literals(r"\w+`(?:\w+|-|.)`[\w+|\s]") == frozenset({"`"})
    assert regex_literals(r'"(?:\{\d\})+"\s*-f') is None


def test_event_ids_are_not_chosen_when_the_rule_names_other_literals():
    ext = ["or", [["str", "endswith", "F", ".bak", False], ["str", "endswith", "F", ".pst", False]]]
    assert required_literals(["and", [["num", "EventID", 5145], ext]]) == {".bak", ".pst"}
    ids = ["or", [["num", "EventID", 4624], ["num", "EventID", 4625]]]
    assert required_literals(["and", [ids, ext]]) == {".bak", ".pst"}
    short = ["str", "contains", "ShareName", "c$", False]  # too short to index
    assert required_literals(["and", [["num", "EventID", 5145], short]]) == {"5145"}


def test_short_literals_of_rare_symbols_are_indexed():
    def contains(*lits: str) -> list:
        return ["or", [["str", "contains", "CommandLine", lit, False] for lit in lits]]

    assert required_literals(contains("^^", "^|^")) == frozenset({"^^", "^|^"})
    cyrillic = contains("\u0430", "\u0435")  # homoglyph look-alikes of a and e
    assert required_literals(cyrillic) == frozenset({"\u0430", "\u0435"})
    assert required_literals(contains("ab")) is None  # short and common
    assert required_literals(contains("\u2013")) is None  # a Windows dash folds to "-"
    assert required_literals(contains('"')) is None


GUARD_PATTERNS = [
    (r"\w+`(?:\w+|-|.)`[\w+|\s]", ""),
    (r'"(?:\{\d\})+"\s*-f', ""),
    (r"(?i)\$\{`?e`?n`?v`?:`?p`?a`?t`?h`?\}", ""),
    (r"(?i)hello", ""),
    (r"x(?i:hello)", ""),
    ("hello", "i"),
    ("cmd(\\.exe)? /c (whoami|net user)", ""),
    ("a{2,}b|c", ""),
    ("[bc]at", ""),
    ("(ab)*c?", ""),
]


def test_regex_guard_only_names_texts_every_match_contains():
    import random
    import re

    from mamori.detect.sigma.matcher import regex_guard
    from mamori.detect.sigma.safety import python_flags

    rnd = random.Random(7)
    alphabet = 'abcxhelloHELLO`-{}"$:ENVpath 0123/.fwhoamicmdnetuser\\'
    assert regex_guard(r"(?i)hello") is None and regex_guard("hello", "i") is None
    assert regex_guard("hello") == ("hello",)
    for pattern, flags in GUARD_PATTERNS:
        rx = re.compile(pattern, python_flags(flags))
        guard = regex_guard(pattern, flags)
        ir = ["re", "CommandLine", pattern, flags]
        samples = ["", "IN`V`o`Ke-eXp", '"{0}{1}" -f', "${e`Nv:pATh}", "HELLO", "cmd /c whoami"]
        samples += [
            "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 30))) for _ in range(300)
        ]
        for text in samples:
            want = rx.search(text) is not None
            if guard is not None and want:
                assert any(g in text for g in guard), (pattern, text, guard)
            assert run(ir, {"CommandLine": text}) is want, (pattern, text)


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(alphabet=st.sampled_from("aZ\\\n:ΣσςİßЖ– x9")),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.text(max_size=3), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(fields=st.dictionaries(st.sampled_from(list("ABCDEFG")), _VALUES, max_size=7))
def test_engine_preparation_equals_the_plain_one(fields):
    names = ("A", "C", "E", "Z")
    lowered, haystack = prepare_named(fields, names)
    assert haystack == full_haystack(fields)
    every, every_haystack = prepare(fields)
    assert every_haystack == haystack
    assert lowered == {k: v for k, v in every.items() if k in names}
    assert every == {k: text_of(v).lower() for k, v in fields.items() if v is not None}
