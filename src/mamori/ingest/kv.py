"""``key=value`` text as firewalls, UTMs, auditd and netfilter write it."""

from __future__ import annotations

import re

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,127}")


def parse_kv(text: str, *, flags: bool = False) -> dict[str, str]:
    """Read ``key=value`` pairs separated by blanks (and ``,``/``;`` after values).

    Values may be double- or single-quoted (``\\"`` escapes a quote inside). With
    ``flags=True`` a bare word (netfilter's ``DF``, ``SYN``) is kept as ``word: ""``.
    Text that is neither is skipped, so the function never fails; a caller decides
    whether what came out is enough.
    """
    out: dict[str, str] = {}
    pos = 0
    n = len(text)
    while pos < n:
        while pos < n and text[pos] in " \t,;\x1d":
            pos += 1
        if pos >= n:
            break
        m = _KEY.match(text, pos)
        if not m or m.end() >= n or text[m.end()] != "=":
            end = pos
            while end < n and text[end] not in " \t":
                end += 1
            if flags and m and m.end() == end:
                out.setdefault(text[pos:end], "")
            pos = end
            continue
        key = m.group(0)
        pos = m.end() + 1
        if pos < n and text[pos] in "\"'":
            quote = text[pos]
            pos += 1
            chars: list[str] = []
            while pos < n:
                ch = text[pos]
                if ch == "\\" and pos + 1 < n and text[pos + 1] in (quote, "\\"):
                    chars.append(text[pos + 1])
                    pos += 2
                    continue
                if ch == quote:
                    pos += 1
                    break
                chars.append(ch)
                pos += 1
            out[key] = "".join(chars)
        else:
            end = pos
            while end < n and text[end] not in " \t\x1d":
                end += 1
            value = text[pos:end]
            if value.endswith((",", ";")) and "=" not in value:
                value = value[:-1]
            out[key] = value
            pos = end
    return out


def count_pairs(text: str) -> int:
    """How many ``key=value`` pairs a line has (a cheap sniffing aid)."""
    return len(re.findall(r"(?:^|\s)[A-Za-z_][A-Za-z0-9_.-]*=", text))


__all__ = ["count_pairs", "parse_kv"]
