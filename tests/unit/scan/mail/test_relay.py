from __future__ import annotations

import socket

from mamori.scan.mail.relay import NextHop
from mamori.scan.testing import RecordingSmtpServer


def test_delivery_and_refusals():
    with RecordingSmtpServer() as server:
        hop = NextHop(port=server.port, timeout=10)
        ok = hop.send("a@x.jp", ["b@y.jp"], b"Subject: t\r\n\r\nhello\r\n")
        assert ok.ok and ok.code == 250
        assert server.messages[0].rcpt_tos == ["b@y.jp"]
        server.reply = "451 4.3.0 try later"
        deferred = hop.send("a@x.jp", ["b@y.jp"], b"Subject: t\r\n\r\nhello\r\n")
        assert (deferred.ok, deferred.code, deferred.temporary) == (False, 451, True)
        server.reply = "554 5.7.1 no"
        refused = hop.send("a@x.jp", ["b@y.jp"], b"Subject: t\r\n\r\nhello\r\n")
        assert refused.code == 554 and not refused.temporary


def test_next_hop_down_is_temporary():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = NextHop(port=port, timeout=2).send("a@x", ["b@y"], b"x")
    assert result.code == 451
    assert result.reply().startswith("451 4.4.1")
