from datetime import timedelta

import pytest

from mamori.errors import NotFoundError, ValidationError
from mamori.respond.commands import CommandKind, CommandStatus, EndpointCommand, MemoryCommandQueue
from mamori.respond.testing import T0


def _cmd(host="PC-01", ttl=timedelta(hours=1)):
    return EndpointCommand.new(
        tenant="acme",
        host=host,
        kind=CommandKind.ISOLATE_HOST,
        args={},
        created_by="sato",
        now=T0,
        ttl=ttl,
    )


def test_poll_complete_cycle():
    q = MemoryCommandQueue()
    cmd = q.enqueue(_cmd())
    assert q.pending("acme", "pc-02", T0) == []
    assert q.pending("beta", "pc-01", T0) == []
    got = q.pending("acme", "pc-01", T0)
    assert [c.id for c in got] == [cmd.id] and got[0].status is CommandStatus.DELIVERED
    assert q.pending("acme", "pc-01", T0) == []  # delivered once
    done = q.complete(cmd.id, ok=True, result={"isolated": True}, now=T0)
    assert done.status is CommandStatus.SUCCEEDED
    with pytest.raises(ValidationError, match="already succeeded"):
        q.complete(cmd.id, ok=False, result={}, now=T0)
    with pytest.raises(NotFoundError):
        q.complete("cmd-x", ok=True, result={}, now=T0)


def test_expire_and_cancel():
    q = MemoryCommandQueue()
    a = q.enqueue(_cmd(ttl=timedelta(minutes=5)))
    b = q.enqueue(_cmd())
    assert q.pending("acme", "pc-01", T0 + timedelta(minutes=6))[0].id == b.id
    expired = q.expire(T0 + timedelta(minutes=6))
    assert [c.id for c in expired] == [a.id]
    assert q.cancel(b.id, T0).status is CommandStatus.CANCELLED
    assert q.cancel(a.id, T0).status is CommandStatus.EXPIRED  # finished ones stay as they are
    with pytest.raises(ValidationError, match="needs a host"):
        _cmd(host="")
