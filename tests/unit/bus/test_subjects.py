import pytest

from mamori.bus.subjects import matches, raw_subject, token


def test_tokens_and_raw_subject():
    assert raw_subject("acme", "syslog") == "mamori.raw.acme.syslog"
    assert raw_subject(None, "a.b c*>") == "mamori.raw._.a_b_c__"
    assert token("") == "_"


@pytest.mark.parametrize(
    ("pattern", "subject", "ok"),
    [
        ("a.b", "a.b", True),
        ("a.*", "a.b", True),
        ("a.*", "a.b.c", False),
        ("a.>", "a.b.c", True),
        ("a.>", "a", False),
        ("*.b", "a.b", True),
        ("a.b", "a.c", False),
        ("a.b.c", "a.b", False),
    ],
)
def test_matches(pattern, subject, ok):
    assert matches(pattern, subject) is ok
