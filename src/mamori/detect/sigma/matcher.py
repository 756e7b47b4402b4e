"""IR -> Python predicates, and the literals a rule needs (for the prefilter).

A compiled predicate is ``pred(f, l, h, t) -> bool`` over one prepared event:

* ``f`` the event's fields as parsed,
* ``l`` fields as lower-cased text (``None`` values left out): at least every field the
  candidate rules name,
* ``h`` lower-cased values of every field joined by newlines (the haystack keywords are
  searched in; the engine's prefilter scans it too; :func:`prepare_named`),
* ``t`` the event time (for timestamp-part modifiers).

Code is generated from the IR as one Python expression per rule and compiled with
``compile()``: every literal and field name is emitted through ``repr()`` and every other
constant (regexes, networks, sets) is passed by reference, so no rule text is ever executed.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from operator import is_not
from typing import Any

import ahocorasick

from mamori.detect.sigma.backend import IR
from mamori.detect.sigma.codecache import CodeCache
from mamori.detect.sigma.safety import MAX_REGEX_INPUT, python_flags, sre_constants, sre_parse

Predicate = Callable[[dict[str, Any], dict[str, str], str, datetime], bool]

AC_THRESHOLD = 24
"""A ``contains`` list longer than this is matched with its own Aho-Corasick automaton."""

MIN_LITERAL = 3
"""Shortest literal worth indexing in the prefilter (shorter ones hit nearly every event)."""


# -- event preparation ------------------------------------------------------------------
def text_of(value: Any) -> str | None:
    """The text a rule compares a value with (``None`` for null)."""
    if value is None:
        return None
    if type(value) is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


_PLAIN = frozenset({str, int, bool, float})
"""Value types whose ``str()`` is the text a rule compares (once lower-cased)."""


def prepare(
    fields: dict[str, Any], only: frozenset[str] | None = None
) -> tuple[dict[str, str], str]:
    """Lower-cased text of the fields (all, or those named in ``only``) and their haystack.

    The haystack is the lower-cased values joined by newlines; with ``only=None`` it holds
    every value (:func:`full_haystack`), which the engine scans once per event. ``None``
    values are left out of both.
    """
    if only is not None:
        return _prepare_some(fields, only)
    values = fields.values()
    kinds = set(map(type, values))
    if kinds <= _PLAIN:  # the common case: all of it in C
        haystack = "\n".join(map(str, values)).lower()
        parts = haystack.split("\n")
        if len(parts) == len(fields):  # no value holds a newline: the parts are the values
            return dict(zip(fields, parts, strict=True)), haystack
    keys: list[str] = []
    texts: list[str] = []
    for key, value in fields.items():
        kind = type(value)
        if kind is str:
            text = value
        elif kind is int:
            text = str(value)
        elif value is None:
            continue
        else:
            text = text_of(value) or ""
        keys.append(key)
        texts.append(text)
    # Lower-casing the joined text equals joining the lower-cased values: a newline is
    # neither cased nor case-ignorable, so it ends every context (Greek final sigma).
    haystack = "\n".join(texts).lower()
    parts = haystack.split("\n")
    if len(parts) == len(texts):
        return dict(zip(keys, parts, strict=True)), haystack
    return {key: text.lower() for key, text in zip(keys, texts, strict=True)}, haystack


_PLAIN_OR_NONE = _PLAIN | {type(None)}
_not_none = partial(is_not, None)
_FORMATS: dict[int, str] = {}


def _format(count: int) -> str:
    """``"%s\\n%s..."`` for ``count`` values (one C call formats and joins them all)."""
    fmt = _FORMATS.get(count)
    if fmt is None:
        fmt = "\n".join(["%s"] * count)
        if len(_FORMATS) < 1024:
            _FORMATS[count] = fmt
    return fmt


def prepare_named(fields: dict[str, Any], names: Iterable[str]) -> tuple[dict[str, str], str]:
    """The engine's form of :func:`prepare`: lower-cased text of the fields in ``names``
    only (those the candidate rules can read) and the haystack of every value."""
    return lowered_of(fields, names), haystack_of(fields)


def haystack_of(fields: dict[str, Any]) -> str:
    """:func:`full_haystack`, made in one C call when the values are plain."""
    values = fields.values()
    kinds = set(map(type, values))
    if kinds <= _PLAIN:  # str() is text_of() for these
        return (_format(len(fields)) % tuple(values)).lower()
    if kinds <= _PLAIN_OR_NONE:  # None values are left out
        texts = tuple(filter(_not_none, values))
        return (_format(len(texts)) % texts).lower()
    return full_haystack(fields)


def lowered_of(fields: dict[str, Any], names: Iterable[str]) -> dict[str, str]:
    """Lower-cased text of the fields in ``names`` that are present and not None."""
    lowered: dict[str, str] = {}
    get = fields.get
    for name in names:
        value = get(name)
        if value is None:
            continue
        kind = type(value)
        if kind is str:
            lowered[name] = value.lower()
        elif kind is int:
            lowered[name] = str(value)
        else:
            lowered[name] = (text_of(value) or "").lower()
    return lowered


def _prepare_some(fields: dict[str, Any], only: frozenset[str]) -> tuple[dict[str, str], str]:
    if len(only) > len(fields):
        items: Any = [(k, v) for k, v in fields.items() if k in only]
    else:
        items = [(k, fields[k]) for k in only if k in fields]
    lowered: dict[str, str] = {}
    for key, value in items:
        kind = type(value)
        if kind is str:
            lowered[key] = value.lower()
        elif kind is int:
            lowered[key] = str(value)
        elif value is not None:
            text = text_of(value)
            if text is not None:
                lowered[key] = text.lower()
    return lowered, "\n".join(lowered.values())


# -- runtime helpers the generated code calls ---------------------------------------------
def _o(f: dict[str, Any], name: str) -> str:
    text = text_of(f.get(name))
    return "" if text is None else text


def _o_or_none(f: dict[str, Any], name: str) -> str | None:
    return text_of(f.get(name))


def _glob(rx: re.Pattern[str], value: str | None) -> bool:
    return value is not None and rx.fullmatch(value) is not None


def _re(rx: re.Pattern[str], value: str | None) -> bool:
    if value is None:
        return False
    if len(value) > MAX_REGEX_INPUT:
        value = value[:MAX_REGEX_INPUT]
    return rx.search(value) is not None


def _re_guarded(rx: re.Pattern[str], guard: tuple[str, ...], value: str | None) -> bool:
    if value is None:
        return False
    for text in guard:
        if text in value:
            return _re(rx, value)
    return False


def _lower_values(f: dict[str, Any]) -> list[str]:
    out = []
    for value in f.values():
        text = text_of(value)
        if text is not None:
            out.append(text.lower())
    return out


def full_haystack(fields: dict[str, Any]) -> str:
    """Every value of the event, as lower-cased text joined by newlines."""
    parts = []
    for value in fields.values():
        kind = type(value)
        if kind is str:
            parts.append(value)
        elif kind is int:
            parts.append(str(value))
        elif value is not None:
            parts.append(text_of(value) or "")
    return "\n".join(parts).lower()


def _kw_glob(rx: re.Pattern[str], values: Iterable[str]) -> bool:
    return any(rx.fullmatch(v) is not None for v in values)


def _kw_re(rx: re.Pattern[str], f: dict[str, Any]) -> bool:
    return any(_re(rx, text_of(v)) for v in f.values())


def _any_in(lits: tuple[str, ...], value: str) -> bool:
    for lit in lits:  # noqa: SIM110 - a plain loop is ~25% faster than any(<genexpr>)
        if lit in value:
            return True
    return False


def _ac_any(automaton: Any, value: str) -> bool:
    return value != "" and next(automaton.iter(value), None) is not None


def _automaton(words: Iterable[str]) -> Any:
    automaton = ahocorasick.Automaton()
    for n, word in enumerate(sorted(set(words))):
        automaton.add_word(word, n)
    automaton.make_automaton()
    return automaton


def _kw_cased(f: dict[str, Any], lit: str) -> bool:
    return any(lit in (text_of(v) or "") for v in f.values())


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return None
    return None


def _num(value: Any, number: float) -> bool:
    got = _number(value)
    return got is not None and got == number


def _cmp(value: Any, op: str, number: float) -> bool:
    got = _number(value)
    if got is None:
        return False
    if op == "lt":
        return got < number
    if op == "lte":
        return got <= number
    if op == "gt":
        return got > number
    if op == "gte":
        return got >= number
    return got != number


def _cidr(net: ipaddress.IPv4Network | ipaddress.IPv6Network, value: Any) -> bool:
    text = text_of(value)
    if not text:
        return False
    try:
        addr = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return False
    return addr.version == net.version and addr in net


def _fref(a: str | None, b: str | None, mode: str) -> bool:
    if a is None or b is None:
        return False
    if mode == "startswith":
        return a.startswith(b)
    if mode == "endswith":
        return a.endswith(b)
    return a == b


def _ts(t: datetime, part: str, number: int) -> bool:
    if part == "minute":
        return t.minute == number
    if part == "hour":
        return t.hour == number
    if part == "day":
        return t.day == number
    if part == "week":
        return t.isocalendar()[1] == number
    if part == "month":
        return t.month == number
    return t.year == number


_HELPERS: dict[str, Any] = {
    "_o": _o,
    "_on": _o_or_none,
    "_glob": _glob,
    "_re": _re,
    "_re_guarded": _re_guarded,
    "_kw_glob": _kw_glob,
    "_lower_values": _lower_values,
    "_kw_re": _kw_re,
    "_kw_cased": _kw_cased,
    "_any_in": _any_in,
    "_ac_any": _ac_any,
    "_num": _num,
    "_cmp": _cmp,
    "_cidr": _cidr,
    "_fref": _fref,
    "_ts": _ts,
    "__builtins__": {},
}


# -- code generation --------------------------------------------------------------------
class _Gen:
    def __init__(self) -> None:
        self.consts: list[Any] = []
        self.tmp = 0

    def const(self, value: Any) -> str:
        self.consts.append(value)
        return f"K[{len(self.consts) - 1}]"

    def expr(self, node: IR) -> str:  # noqa: C901 - one branch per IR node kind
        kind = node[0]
        if kind == "and":
            return "(" + " and ".join(self.expr(n) for n in node[1]) + ")" if node[1] else "True"
        if kind == "or":
            return self._or(node[1])
        if kind == "not":
            return f"(not {self.expr(node[1])})"
        if kind == "true":
            return "True"
        if kind == "false":
            return "False"
        if kind == "str":
            return self._str(node[1], node[2], node[3], bool(node[4]))
        if kind == "glob":
            field, pattern, cased = node[1], node[2], node[3]
            rx = self.const(re.compile(pattern, re.DOTALL))
            if field is None:
                values = "(_o(f, k) for k in f)" if cased else "_lower_values(f)"
                return f"_kw_glob({rx}, {values})"
            value = f"_on(f, {field!r})" if cased else f"l.get({field!r})"
            return f"_glob({rx}, {value})"
        if kind == "re":
            _, field, pattern, flags = node
            rx = self.const(re.compile(pattern, python_flags(flags)))
            if field is None:
                return f"_kw_re({rx}, f)"
            guard = regex_guard(pattern, flags)
            if guard is not None:
                return f"_re_guarded({rx}, {guard!r}, _on(f, {field!r}))"
            return f"_re({rx}, _on(f, {field!r}))"
        if kind == "num":
            _, field, number = node
            if isinstance(number, int) and not isinstance(number, bool):
                return f"(l.get({field!r}) == {str(number)!r})"
            return f"_num(f.get({field!r}), {float(number)!r})"
        if kind == "bool":
            _, field, value = node
            return f"(l.get({field!r}) == {('true' if value else 'false')!r})"
        if kind == "cmp":
            _, field, op, number = node
            return f"_cmp(f.get({field!r}), {op!r}, {float(number)!r})"
        if kind == "cidr":
            _, field, network = node
            net = self.const(ipaddress.ip_network(network, strict=False))
            return f"_cidr({net}, f.get({field!r}))"
        if kind == "null":
            return f"(not l.get({node[1]!r}))"
        if kind == "exists":
            return f"({node[1]!r} in l)"
        if kind == "fref":
            _, field, other, mode = node
            return f"_fref(l.get({field!r}), l.get({other!r}), {mode!r})"
        if kind == "ts":
            _, part, number = node
            return f"_ts(t, {part!r}, {int(number)!r})"
        raise ValueError(f"unknown IR node {kind!r}")

    def _str(self, op: str, field: str | None, lit: str, cased: bool) -> str:
        if field is None:
            if cased:
                return f"_kw_cased(f, {lit!r})"
            if op == "eq":
                return f"({lit!r} in _lower_values(f))"
            return f"({lit!r} in h)"
        value = f"_o(f, {field!r})" if cased else f"l.get({field!r}, '')"
        if op == "eq":
            eq_value = f"_on(f, {field!r})" if cased else f"l.get({field!r})"
            return f"({eq_value} == {lit!r})"
        if op == "contains":
            return f"({lit!r} in {value})"
        return f"{value}.{op}({lit!r})"

    def _or(self, nodes: list[IR]) -> str:
        if not nodes:
            return "False"
        # Group plain string tests on one field: startswith/endswith take tuples, eq a set.
        groups: dict[tuple[str, str, bool], list[str]] = {}
        rest: list[IR] = []
        for n in nodes:
            if n[0] == "str" and n[2] is not None and n[1] != "":
                groups.setdefault((n[1], n[2], bool(n[4])), []).append(n[3])
            else:
                rest.append(n)
        parts: list[str] = []
        for (op, field, cased), lits in groups.items():
            if len(lits) == 1:
                parts.append(self._str(op, field, lits[0], cased))
                continue
            if op == "contains":
                getter = f"_o(f, {field!r})" if cased else f"l.get({field!r}, '')"
                if len(lits) > AC_THRESHOLD and all(lits):
                    parts.append(f"_ac_any({self.const(_automaton(lits))}, {getter})")
                else:
                    parts.append(f"_any_in({tuple(lits)!r}, {getter})")
            elif op == "eq":
                values = self.const(frozenset(lits))
                getter = f"_on(f, {field!r})" if cased else f"l.get({field!r})"
                parts.append(f"({getter} in {values})")
            else:
                getter = f"_o(f, {field!r})" if cased else f"l.get({field!r}, '')"
                parts.append(f"{getter}.{op}({tuple(lits)!r})")
        parts.extend(self.expr(n) for n in rest)
        return "(" + " or ".join(parts) + ")"


def compile_predicate(
    ir: IR, name: str = "<rule>", code_cache: CodeCache | None = None
) -> Predicate:
    """Compile one IR tree into a predicate; raises ValueError on malformed IR."""
    return compile_predicates([ir], name, code_cache)[0]


def compile_predicates(
    irs: list[IR], name: str = "<rule>", code_cache: CodeCache | None = None
) -> list[Predicate]:
    """Compile several IR trees with one ``compile()`` call (cheaper than one each).

    With ``code_cache`` the bytecode of the generated source is taken from (and added to)
    that cache; constants (regexes, automata) are always built anew from the IR.
    """
    gen = _Gen()
    source = "(" + "".join(f"lambda f, l, h, t: {gen.expr(ir)}," for ir in irs) + ")"
    namespace = dict(_HELPERS)
    namespace["K"] = gen.consts
    code = compile(source, name, "eval") if code_cache is None else code_cache.compile(source, name)
    predicates: tuple[Predicate, ...] = eval(code, namespace)  # noqa: S307 - generated from IR
    return list(predicates)


def required_event_ids(ir: IR) -> frozenset[int] | None:
    """EventID values one of which the rule requires (for routing), if the IR says so."""
    kind = ir[0]
    if kind == "num" and len(ir) > 2 and ir[1] == "EventID":
        value = ir[2]
        if isinstance(value, int) and not isinstance(value, bool):
            return frozenset({value})
        return None
    if kind == "str" and len(ir) > 4 and ir[1] == "eq" and ir[2] == "EventID":
        text = str(ir[3])
        return frozenset({int(text)}) if text.isdigit() else None
    if kind == "and":
        options = [s for s in (required_event_ids(n) for n in ir[1]) if s is not None]
        return min(options, key=len) if options else None
    if kind == "or":
        out: set[int] = set()
        for n in ir[1]:
            sub = required_event_ids(n)
            if sub is None:
                return None
            out |= sub
        return frozenset(out) if out else None
    return None


# -- analysis ---------------------------------------------------------------------------
def required_literals(ir: IR) -> frozenset[str] | None:
    """Lower-cased literals of which at least one occurs in the haystack of every event the
    rule can match, or ``None`` when no such set is known (the rule is always a candidate)."""
    kind = ir[0]
    if kind == "str":
        lit = ir[3].lower()
        return frozenset({lit}) if _selective(lit) else None
    if kind == "glob":
        best = str(ir[4]).lower() if len(ir) > 4 else ""
        return frozenset({best}) if _selective(best) else None
    if kind == "re":
        return regex_literals(str(ir[2]), str(ir[3]))
    if kind == "num" and isinstance(ir[2], int) and not isinstance(ir[2], bool):
        text = str(ir[2])
        return frozenset({text}) if len(text) >= MIN_LITERAL + 1 else None
    if kind == "and":
        found = [(n, s) for n in ir[1] if (s := required_literals(n)) is not None]
        if not found:
            return None
        # EventIDs route the rule already: their digits hit on every event of its route
        others = [s for n, s in found if not _event_id_test(n)]
        return min(others or [s for _, s in found], key=_cost)
    if kind == "or":
        out: set[str] = set()
        for n in ir[1]:
            sub = required_literals(n)
            if sub is None:
                return None
            out |= sub
        return frozenset(out) if out else None
    return None


def _event_id_test(ir: IR) -> bool:
    """Whether ``ir`` only compares ``EventID`` with values (one, or any of several)."""
    kind = ir[0]
    if kind == "or":
        return bool(ir[1]) and all(_event_id_test(n) for n in ir[1])
    return required_event_ids(ir) is not None and kind in ("num", "str")


COMMON_TEXT = (
    "c:\\windows\\system32\\svchost.exe -k netsvcs -p -s schedule",
    "c:\\windows\\system32\\cmd.exe /c ping 127.0.0.1",
    "c:\\windows\\syswow64\\windowspowershell\\v1.0\\powershell.exe",
    "c:\\windows\\explorer.exe c:\\windows\\system32\\conhost.exe 0xffffffff -forcev1",
    "c:\\windows\\system32\\rundll32.exe c:\\windows\\system32\\services.exe",
    "c:\\program files\\ c:\\program files (x86)\\ c:\\programdata\\microsoft\\",
    "c:\\users\\user\\appdata\\local\\temp\\ c:\\users\\public\\downloads\\",
    "nt authority\\system nt authority\\local service authorit",
    "microsoft corporation microsoft\u00ae windows\u00ae operating system",
    "hklm\\software\\microsoft\\windows\\currentversion\\run",
    "hklm\\system\\currentcontrolset\\services\\ process high medium",
    "sha1=,md5=,sha256=,imphash= .exe .dll .tmp .txt .log",
)
"""Text typical of benign Windows events: literals found in it are poor prefilter keys."""


def regex_literals(pattern: str, flags: str = "") -> frozenset[str] | None:
    """Literals one of which every match of ``pattern`` contains (lower-cased), if known."""
    try:
        parsed = sre_parse.parse(pattern, python_flags(flags))
    except Exception:  # noqa: BLE001 - an unparsable pattern has no known literals
        return None
    found = _re_required(list(parsed))
    return found if found and all(_selective(x) for x in found) else None


def regex_guard(pattern: str, flags: str = "") -> tuple[str, ...] | None:
    """Texts one of which (as written, case kept) every match of ``pattern`` contains: a
    cheap ``in`` test that spares the regex engine most values. ``None`` when unknown, or
    when the pattern ignores case and a guard text has letters."""
    try:
        python = python_flags(flags)
        parsed = sre_parse.parse(pattern, python)
    except Exception:  # noqa: BLE001 - an unparsable pattern gets no guard
        return None
    found = _re_required(list(parsed), 1, lower=False)
    if not found:
        return None
    ignore_case = (
        python & re.IGNORECASE
        or parsed.state.flags & re.IGNORECASE
        or _INLINE_I.search(pattern) is not None  # (?i:...) groups, conservatively
    )
    if ignore_case and any(x.lower() != x or x.upper() != x for x in found):
        return None
    return tuple(sorted(found))


_INLINE_I = re.compile(r"\(\?[a-zA-Z-]*i")


def _re_required(
    items: list[Any], min_len: int = MIN_LITERAL, *, lower: bool = True
) -> frozenset[str] | None:
    """Best required-literal set of a parsed regex sequence (see :func:`regex_literals`)."""
    options: list[frozenset[str]] = []
    run: list[str] = []

    def close_run() -> None:
        if len(run) >= min_len or (run and lower and _selective("".join(run).lower())):
            text = "".join(run)
            options.append(frozenset({text.lower() if lower else text}))
        run.clear()

    for op, av in items:
        if op is sre_constants.LITERAL:
            run.append(chr(av))
            continue
        close_run()
        sub: frozenset[str] | None = None
        if op is sre_constants.SUBPATTERN:
            sub = _re_required(list(av[-1]), min_len, lower=lower)
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and av[0] >= 1:
            sub = _re_required(list(av[2]), min_len, lower=lower)
        elif op is sre_constants.BRANCH:
            parts = [_re_required(list(branch), min_len, lower=lower) for branch in av[1]]
            if parts and all(p is not None for p in parts):
                sub = frozenset().union(*[p for p in parts if p is not None])
        if sub:
            options.append(sub)
    close_run()
    if not options:
        return None
    return min(options, key=_cost)


def _cost(options: frozenset[str]) -> tuple[int, int, int]:
    common = sum(1 for lit in options for text in COMMON_TEXT if lit in text)
    return (common, -min(len(x) for x in options), len(options))


def fold(text: str) -> str:
    """The prefilter's form of a text: Windows dashes (what ``windash`` expands to) become
    ``-`` and the rest is UTF-8 bytes read as Latin-1, so the Aho-Corasick alphabet stays
    within 256 symbols. A substring of a text stays a substring of its folded form."""
    if text.isascii():
        return text
    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u2015", "-")
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


RARE_CHARS = frozenset("`^|")
"""Characters rare in benign event text (PowerShell and cmd escapes, pipes): a literal made
of them only is worth indexing however short."""


def _selective(lit: str) -> bool:
    """Worth indexing in the prefilter: long enough, counted in its folded form (a non-ASCII
    character is several symbols there, a Windows dash one); or a short literal of rare
    symbols: a character beyond Latin-1's ASCII half (two or more bytes folded, e.g. the
    Cyrillic look-alikes of homoglyph rules) or only :data:`RARE_CHARS`."""
    folded = fold(lit)
    if len(folded) >= MIN_LITERAL:
        return True
    if not folded:
        return False
    if not lit.isascii():
        return len(folded) >= 2
    return all(c in RARE_CHARS for c in lit)


def leaves(ir: IR, negated: bool = False) -> Iterable[tuple[IR, bool]]:
    """Every comparison node with whether it sits under a NOT."""
    kind = ir[0]
    if kind in ("and", "or"):
        for n in ir[1]:
            yield from leaves(n, negated)
    elif kind == "not":
        yield from leaves(ir[1], not negated)
    elif kind not in ("true", "false"):
        yield ir, negated


def needs_all_fields(ir: IR) -> bool:
    """Whether the rule searches every field (keywords) rather than named ones."""
    return any(
        leaf[0] in ("str", "glob", "re") and (leaf[2] if leaf[0] == "str" else leaf[1]) is None
        for leaf, _ in leaves(ir)
    )


def fields_of(ir: IR) -> list[str]:
    out: list[str] = []
    for leaf, _ in leaves(ir):
        for name in _leaf_fields(leaf):
            if name not in out:
                out.append(name)
    return out


def _leaf_fields(leaf: IR) -> list[str]:
    kind = leaf[0]
    if kind == "str" and len(leaf) > 2:
        return [leaf[2]] if leaf[2] is not None else []
    if kind == "fref":
        return [leaf[1], leaf[2]]
    if kind == "ts" or len(leaf) < 2:
        return []
    return [leaf[1]] if isinstance(leaf[1], str) else []


class LeafCache:
    """Compiled predicates of one rule's leaves, built on its first match."""

    __slots__ = ("entries",)

    def __init__(self, ir: IR, code_cache: CodeCache | None = None) -> None:
        self.entries: list[tuple[IR, Predicate | None, list[str]]] = []
        chosen = [leaf for leaf, negated in leaves(ir) if not negated]
        try:
            preds: list[Predicate | None] = list(compile_predicates(chosen, "<leaves>", code_cache))
        except (ValueError, re.error, SyntaxError):
            preds = [None] * len(chosen)
        for leaf, pred in zip(chosen, preds, strict=True):
            self.entries.append((leaf, pred, _leaf_fields(leaf)))


def matched_fields(
    cache: LeafCache,
    f: dict[str, Any],
    l: dict[str, str],  # noqa: E741 - the predicate signature names
    h: str,
    t: datetime,
) -> dict[str, Any]:
    """The fields whose (non-negated) comparisons hold on this event."""
    out: dict[str, Any] = {}
    for leaf, pred, names in cache.entries:
        if pred is None:
            continue
        if names:  # a leaf whose fields are shown already, or absent, adds nothing
            for n in names:
                if n in f and n not in out:
                    break
            else:
                continue
        try:
            hit = pred(f, l, h, t)
        except Exception:  # noqa: S112 - a leaf that cannot be re-evaluated is just not shown
            continue
        if not hit:
            continue
        if names:
            for n in names:
                if n in f:
                    out[n] = f[n]
        elif leaf[0] == "str":  # keyword: show the values that contain it
            lit = str(leaf[3]).lower()
            for key, value in f.items():
                text = text_of(value)
                if text is not None and lit in text.lower() and key not in out:
                    out[key] = value
    return out


def _with_field(leaf: IR, name: str) -> IR:
    if leaf[0] == "str":
        return [leaf[0], leaf[1], name, leaf[3], leaf[4]]
    return [leaf[0], name, *leaf[2:]]


__all__ = [
    "MIN_LITERAL",
    "LeafCache",
    "Predicate",
    "compile_predicate",
    "compile_predicates",
    "fold",
    "full_haystack",
    "fields_of",
    "leaves",
    "matched_fields",
    "needs_all_fields",
    "haystack_of",
    "lowered_of",
    "prepare",
    "prepare_named",
    "regex_guard",
    "required_event_ids",
    "required_literals",
    "text_of",
]
