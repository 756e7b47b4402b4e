from mamori.ingest.collectors.framing import Frame, Framing, SyslogFramer


def feed_all(framer, data, step=1):
    out = []
    for i in range(0, len(data), step):
        out += framer.feed(data[i : i + step])
    return out + framer.close()


def test_newline_framing_any_chunking():
    data = b"<13>one\r\n<13>two\n\n<13>three"
    for step in (1, 3, 100):
        framer = SyslogFramer()
        assert feed_all(framer, data, step) == [
            Frame(b"<13>one"),
            Frame(b"<13>two"),
            Frame(b"<13>three"),
        ]
        assert framer.mode is Framing.NEWLINE


def test_octet_counting_keeps_embedded_newlines():
    msgs = [b"<13>a\nmultiline", b"<14>second", b"<15>" + "日本語".encode()]
    data = b"".join(b"%d %s" % (len(m), m) for m in msgs)
    for step in (1, 7, 1000):
        framer = SyslogFramer()
        assert [f.data for f in feed_all(framer, data, step)] == msgs
        assert framer.mode is Framing.OCTET


def test_octet_counting_tolerates_trailers_and_falls_back_on_garbage():
    framer = SyslogFramer()
    frames = feed_all(framer, b"5 <13>a\n5 <13>b\nnot a count\nnext line\n")
    assert [f.data for f in frames] == [b"<13>a", b"<13>b", b"not a count", b"next line"]
    assert framer.switched


def test_digit_started_newline_stream_falls_back():
    framer = SyslogFramer()
    frames = feed_all(framer, b"2026-11-25T10:00:00Z host app: x\n2026-11-25T10:00:01Z h a: y\n")
    assert [f.data[:4] for f in frames] == [b"2026", b"2026"]


def test_overlong_newline_record_is_cut_and_rest_skipped():
    framer = SyslogFramer(max_bytes=1024)
    frames = feed_all(framer, b"A" * 5000 + b"\nshort\n", step=700)
    assert frames == [Frame(b"A" * 1024, complete=False), Frame(b"short")]


def test_overlong_octet_frame_is_cut_and_rest_skipped():
    framer = SyslogFramer(max_bytes=1024)
    big = b"B" * 3000
    frames = feed_all(framer, b"3000 " + big + b"5 <13>z", step=500)
    assert frames == [Frame(b"B" * 1024, complete=False), Frame(b"<13>z")]


def test_unfinished_octet_frame_at_close_is_kept_as_cut():
    framer = SyslogFramer()
    assert framer.feed(b"100 <13>only part") == []
    assert framer.close() == [Frame(b"100 <13>only part", complete=False)]


def test_nul_bytes_and_invalid_utf8_pass_through():
    framer = SyslogFramer()
    assert feed_all(framer, b"<13>a\x00b\xff\n") == [Frame(b"<13>a\x00b\xff")]
    assert SyslogFramer().close() == []
