"""``key=value`` text as firewalls, UTMs, auditd and netfilter write it."""

from __future__ import annotations

import re

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,127}")


_PAIR = re.compile(
    r"([A-Za-z_][A-Za-z0-9_.:-]{0,127})="
    r"""(?:"((?:[^"\\]|\\.)*)"?|'((?:[^'\\]|\\.)*)'?|([^\s\x1d]*))"""
    r"|([^\s,;=\x1d]+)"
)
_ESCAPE = re.compile(r"""\\(["'\\])""")


def parse_kv(text: str, *, flags: bool = False) -> dict[str, str]:
    """Read ``key=value`` pairs separated by blanks (and ``,``/``;`` after values).

    Values may be double- or single-quoted (``\\"`` escapes a quote inside; an
    unterminated quote runs to the end of the text). With ``flags=True`` a bare word
    (netfilter's ``DF``, ``SYN``) is kept as ``word: ""``. Text that is neither is
    skipped, so the function never fails; a caller decides whether what came out is enough.
    """
    out: dict[str, str] = {}
    for m in _PAIR.finditer(text):
        key, double, single, bare, word = m.groups()
        if key is None:
            if flags and _KEY.fullmatch(word):
                out.setdefault(word, "")
            continue
        quoted = double if double is not None else single
        if quoted is not None:
            out[key] = _ESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted
        elif bare[-1:] in (",", ";") and "=" not in bare:
            out[key] = bare[:-1]
        else:
            out[key] = bare
    return out


def count_pairs(text: str) -> int:
    """How many ``key=value`` pairs a line has (a cheap sniffing aid)."""
    return len(re.findall(r"(?:^|\s)[A-Za-z_][A-Za-z0-9_.-]*=", text))


__all__ = ["count_pairs", "parse_kv"]
