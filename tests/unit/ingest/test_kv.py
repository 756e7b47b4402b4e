from mamori.ingest.kv import count_pairs, parse_kv


def test_quoted_unquoted_and_flags():
    text = 'a=1 b="two words" c=\'single\' d="esc \\" q" DF SYN e=, f=x;'
    assert parse_kv(text, flags=True) == {
        "a": "1",
        "b": "two words",
        "c": "single",
        "d": 'esc " q',
        "DF": "",
        "SYN": "",
        "e": "",
        "f": "x",
    }
    assert "DF" not in parse_kv(text)


def test_garbage_never_raises():
    assert parse_kv('="x" ==  a="unterminated') == {"a": "unterminated"}
    assert parse_kv("") == {}
    assert count_pairs("a=1 b=2 c") == 2
