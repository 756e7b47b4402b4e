import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.ingest.lines import decode, first_lines, iter_lines, line_event_id, sniff_lines
from mamori.model import event_id_for


def test_iter_lines_cuts_long_lines_and_keeps_going():
    data = b"short\r\n" + b"x" * 50 + b"\nafter\nlast-without-newline\nend"
    out = list(iter_lines(io.BytesIO(data), max_line=10))
    assert out == [
        (1, b"short", True),
        (2, b"x" * 10, False),
        (3, b"after", True),
        (4, b"last-witho", False),
        (5, b"end", True),
    ]


def test_decode():
    assert decode(b"ok") == ("ok", False)
    assert decode("日本".encode()) == ("日本", False)
    assert decode(b"a\xffb\x00") == ("a\\xffb\\x00", True)
    assert decode("日本".encode("cp932"), "cp932") == ("日本", False)


def test_first_lines_ignores_cut_tail_and_bom():
    assert first_lines(b"\xef\xbb\xbfa\n\nb\nc-cut") == ["a", "b"]
    assert sniff_lines(b"yes\nno\nyes\n", lambda s: s == "yes")
    assert not sniff_lines(b"no\nno\nyes\n", lambda s: s == "yes")


def test_sniff_heads_may_be_text_or_lines():
    assert first_lines("a\nb\n") == ["a", "b"]
    assert first_lines(["", "x", "y"], limit=1) == ["x"]


@settings(max_examples=200, deadline=None)
@given(
    parser=st.sampled_from(["json_lines", "syslog"]),
    tenant=st.none() | st.text(max_size=8),
    location=st.text(max_size=30),
    lineno=st.integers(0, 10**7),
    line=st.text(max_size=80),
)
def test_line_event_id_is_event_id_for_in_one_call(parser, tenant, location, lineno, line):
    try:
        expected = event_id_for(parser, tenant, location, str(lineno), line)
    except UnicodeEncodeError:  # a lone surrogate neither can write
        with pytest.raises(UnicodeEncodeError):
            line_event_id(parser, tenant, location, lineno, line)
        return
    assert line_event_id(parser, tenant, location, lineno, line) == expected
