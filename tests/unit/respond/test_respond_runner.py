import json

import httpx
import pytest

from mamori.errors import NotFoundError, PermissionDeniedError, ValidationError
from mamori.respond.actions import ActionDeps, DirectoryWebhook, actions
from mamori.respond.blocklist import MemoryBlocklist
from mamori.respond.commands import CommandKind, CommandStatus, MemoryCommandQueue
from mamori.respond.models import Actor
from mamori.respond.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from mamori.respond.runner import ActionRunner, ActionStatus, ApprovalPolicy
from mamori.respond.testing import make_alert


@pytest.fixture
def directory_calls():
    return []


@pytest.fixture
def deps(directory_calls):
    def handler(request):
        directory_calls.append(request)
        user = json.loads(request.content)["user"]
        return httpx.Response(500 if user == "broken" else 200)

    return ActionDeps(
        commands=MemoryCommandQueue(),
        blocklist=MemoryBlocklist(),
        directories={"acme": DirectoryWebhook(url="https://dir.acme.example/hook", secret="dk")},
        http_transport=httpx.MockTransport(handler),
    )


@pytest.fixture
def runner(env, deps):
    r = ActionRunner(service=env.service, deps=deps, clock=env.clock, timeout=5)
    yield r
    r.close()


@pytest.fixture
def incident_id(env):
    return env.intake.submit(
        make_alert(
            event={
                "User": "ACME\\taro",
                "DestinationIp": "203.0.113.7",
                "QueryName": "c2.evil.example",
                "Hashes": "SHA256=" + "a" * 64,
            }
        )
    ).incident_id


def test_registry_has_every_action():
    assert set(actions.names()) >= {
        "isolate_host",
        "release_host",
        "kill_process",
        "quarantine_file",
        "block_indicator",
        "disable_account",
        "notify",
    }


def test_isolate_manual_approval_then_rollback(env, runner, deps, incident_id, analyst):
    rec = runner.request(incident_id, "isolate_host", {}, analyst)
    assert (rec.status, rec.approval) == (ActionStatus.PENDING_APPROVAL, "manual")
    with pytest.raises(NotFoundError):
        runner.approve(rec.id, Actor.customer("eve", "beta"))
    done = runner.approve(rec.id, Actor.customer("yamada", "acme"))
    assert done.status is ActionStatus.SUCCEEDED and done.approved_by == "yamada"
    cmd = deps.commands.get(done.detail["command_id"])
    assert (cmd.kind, cmd.host, cmd.status) == (
        CommandKind.ISOLATE_HOST,
        "pc-01",
        CommandStatus.QUEUED,
    )
    with pytest.raises(ValidationError, match="not waiting"):
        runner.approve(rec.id, analyst)
    back = runner.rollback(rec.id, analyst)
    assert back.status is ActionStatus.ROLLED_BACK
    kinds = [c.kind for c in deps.commands.pending("acme", "pc-01", env.clock())]
    assert kinds == [CommandKind.ISOLATE_HOST, CommandKind.RELEASE_HOST]
    timeline = [e.kind for e in env.incidents.get(incident_id).timeline]
    assert timeline.count("action") == 1 and "action_rollback" in timeline
    with pytest.raises(ValidationError, match="only a succeeded"):
        runner.rollback(rec.id, analyst)


def test_reject(env, runner, incident_id, analyst):
    rec = runner.request(incident_id, "disable_account", {}, analyst)
    out = runner.reject(rec.id, analyst, "業務影響が大きい")
    assert out.status is ActionStatus.REJECTED
    assert runner.repo.get(rec.id).message == "業務影響が大きい"


def test_policy_manual_wins(env, deps, incident_id, analyst):
    r = ActionRunner(
        service=env.service,
        deps=deps,
        clock=env.clock,
        policy=ApprovalPolicy(tenants={"acme": {"block_indicator": "manual"}}),
    )
    try:
        rec = r.request(
            incident_id, "block_indicator", {"from_observables": ["ip"]}, analyst, approval="auto"
        )
        assert rec.status is ActionStatus.PENDING_APPROVAL
        with pytest.raises(ValidationError, match="approval must be"):
            r.request(incident_id, "notify", {}, analyst, approval="maybe")
    finally:
        r.close()


def test_block_indicator_from_observables_and_rollback(runner, deps, incident_id, analyst):
    rec = runner.request(
        incident_id,
        "block_indicator",
        {"from_observables": ["ip", "domain", "hash"], "hours": 24},
        analyst,
    )
    assert rec.status is ActionStatus.SUCCEEDED, rec.message
    values = sorted(e.value for e in deps.blocklist.list())
    assert values == ["203.0.113.7", "a" * 64, "c2.evil.example"]
    runner.rollback(rec.id, analyst)
    assert deps.blocklist.list() == []


def test_unknown_action_and_bad_params(runner, incident_id, analyst):
    with pytest.raises(NotFoundError, match="unknown action 'format_disk'"):
        runner.request(incident_id, "format_disk", {}, analyst)
    with pytest.raises(ValidationError, match="unknown parameter 'hots'"):
        runner.request(incident_id, "isolate_host", {"hots": "x"}, analyst)
    with pytest.raises(ValidationError, match="missing parameter 'path'"):
        runner.request(incident_id, "quarantine_file", {}, analyst)
    with pytest.raises(PermissionDeniedError):
        runner.request(incident_id, "notify", {}, Actor.customer("c", "acme"))


def test_disable_account_signed_and_failure_recorded(
    env, runner, directory_calls, incident_id, analyst
):
    ok = runner.request(incident_id, "disable_account", {}, analyst, approval="auto")
    assert ok.status is ActionStatus.SUCCEEDED, ok.message
    req = directory_calls[0]
    assert json.loads(req.content)["user"] == "ACME\\taro"
    assert verify_signature(
        "dk", req.content, req.headers[TIMESTAMP_HEADER], req.headers[SIGNATURE_HEADER]
    )
    bad = runner.request(
        incident_id, "disable_account", {"user": "broken"}, analyst, approval="auto"
    )
    assert bad.status is ActionStatus.FAILED
    assert "HTTP 500" in bad.message
    entry = env.incidents.get(incident_id).timeline[-1]
    assert entry.kind == "action" and entry.detail["status"] == "failed"
    back = runner.rollback(ok.id, analyst)
    assert back.status is ActionStatus.ROLLED_BACK
    assert json.loads(directory_calls[-1].content)["action"] == "enable"


def test_action_without_dependency_fails_clearly(env, incident_id, analyst):
    r = ActionRunner(service=env.service, deps=ActionDeps(), clock=env.clock)
    try:
        rec = r.request(incident_id, "isolate_host", {}, analyst, approval="auto")
        assert rec.status is ActionStatus.FAILED
        assert "no endpoint command queue" in rec.message
        rec = r.request(incident_id, "disable_account", {}, analyst, approval="auto")
        assert "no directory webhook" in rec.message
    finally:
        r.close()


def test_action_that_times_out_is_recorded(runner, incident_id, analyst):
    # the agent never answers; the action waits 5 s but the runner allows 0.2 s
    rec = runner.request(
        incident_id, "isolate_host", {"wait": 5}, analyst, approval="auto", timeout=0.2
    )
    assert rec.status is ActionStatus.TIMED_OUT
    assert "timed out after 0.2 s" in rec.message


def test_agent_failure_and_no_answer_are_failures(runner, deps, incident_id, analyst):
    rec = runner.request(incident_id, "kill_process", {"pid": "abc"}, analyst, approval="auto")
    assert rec.status is ActionStatus.FAILED and "pid must be a number" in rec.message
    rec = runner.request(
        incident_id, "kill_process", {"pid": 4242, "wait": 0.2}, analyst, approval="auto"
    )
    assert rec.status is ActionStatus.FAILED and "no answer from the agent" in rec.message
    rec = runner.request(incident_id, "isolate_host", {"host": "pc-99"}, analyst, approval="auto")
    assert rec.status is ActionStatus.FAILED and "not part of incident" in rec.message


def test_quarantine_file_with_agent_answer(runner, deps, incident_id, analyst, env):
    import threading

    def agent():
        for _ in range(100):
            cmds = deps.commands.pending("acme", "pc-01", env.clock())
            if cmds:
                deps.commands.complete(cmds[0].id, ok=True, result={"moved": True}, now=env.clock())
                return
            threading.Event().wait(0.02)

    t = threading.Thread(target=agent)
    t.start()
    rec = runner.request(
        incident_id,
        "quarantine_file",
        {"path": "C:\\evil.exe", "sha256": "A" * 64, "wait": 5},
        analyst,
        approval="auto",
    )
    t.join()
    assert rec.status is ActionStatus.SUCCEEDED, rec.message
    assert rec.detail["result"] == {"moved": True}
    assert rec.rollback_data == {"host": "pc-01", "path": "C:\\evil.exe", "sha256": "a" * 64}


def test_notify_action_failure_visible(env, deps, incident_id, analyst):
    from mamori.respond.notify.delivery import DeliveryRecord

    def failing(incident, params):
        return DeliveryRecord(
            id="ntf-1",
            channel="email",
            target="x",
            tenant=incident.tenant,
            kind="k",
            subject="s",
            incident_id=incident.id,
            created_at=env.clock(),
            status="failed",
            attempts=3,
            errors=["attempt 3: ConnectionRefusedError"],
        )

    deps.notify = failing
    r = ActionRunner(service=env.service, deps=deps, clock=env.clock)
    try:
        rec = r.request(incident_id, "notify", {"channel": "customer"}, analyst)
        assert rec.status is ActionStatus.FAILED
        assert "ConnectionRefusedError" in rec.message
    finally:
        r.close()


def test_block_indicator_explicit_values(runner, deps, incident_id, analyst):
    rec = runner.request(
        incident_id,
        "block_indicator",
        {"kind": "domain", "values": ["bad.example", "not a domain"]},
        analyst,
    )
    assert rec.status is ActionStatus.SUCCEEDED
    assert rec.detail["added"] == ["domain:bad.example"] and len(rec.detail["invalid"]) == 1
    rec = runner.request(incident_id, "block_indicator", {"values": "x"}, analyst)
    assert rec.status is ActionStatus.FAILED and "need a kind" in rec.message
    rec = runner.request(
        incident_id, "block_indicator", {"kind": "ip", "values": "999.1.1.1"}, analyst
    )
    assert rec.status is ActionStatus.FAILED and "not an IP" in rec.message
    rec = runner.request(incident_id, "block_indicator", {"from_observables": ["user"]}, analyst)
    assert (
        rec.status is ActionStatus.FAILED
        and "cannot block observables of kind 'user'" in rec.message
    )
    rec = runner.request(incident_id, "block_indicator", {}, analyst)
    assert rec.status is ActionStatus.FAILED and "nothing to block" in rec.message


def test_release_host_rolls_back_to_isolation(runner, deps, incident_id, analyst, env):
    rec = runner.request(incident_id, "release_host", {}, analyst, approval="auto")
    assert rec.status is ActionStatus.SUCCEEDED
    runner.rollback(rec.id, analyst)
    kinds = [c.kind for c in deps.commands.pending("acme", "pc-01", env.clock())]
    assert kinds == [CommandKind.RELEASE_HOST, CommandKind.ISOLATE_HOST]
    kill = runner.request(
        incident_id, "kill_process", {"image": "C:\\evil.exe"}, analyst, approval="auto"
    )
    assert kill.status is ActionStatus.SUCCEEDED
    with pytest.raises(ValidationError, match="cannot be rolled back"):
        runner.rollback(kill.id, analyst)
    bad = runner.request(incident_id, "kill_process", {}, analyst, approval="auto")
    assert "needs a pid or an image" in bad.message


def test_notify_with_nobody_to_tell_says_so(env, deps, incident_id, analyst):
    """No channel wants the incident: the step succeeds but never claims a message went out."""
    deps.notify = lambda _incident, _params: None
    r = ActionRunner(service=env.service, deps=deps, clock=env.clock)
    try:
        rec = r.request(incident_id, "notify", {"channel": "customer"}, analyst)
        assert rec.status is ActionStatus.SUCCEEDED
        assert rec.detail["delivered"] is False and rec.detail["channel"] == "customer"
        assert "送信していません" in rec.message
    finally:
        r.close()
