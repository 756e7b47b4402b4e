import pytest

from mamori.errors import PermissionDeniedError, ValidationError
from mamori.respond.actions import ActionDeps
from mamori.respond.blocklist import MemoryBlocklist
from mamori.respond.commands import MemoryCommandQueue
from mamori.respond.models import Actor
from mamori.respond.playbooks import default_playbooks, parse_playbooks
from mamori.respond.playbooks.engine import PlaybookEngine
from mamori.respond.runner import ActionRunner, ActionStatus
from mamori.respond.testing import make_alert


@pytest.fixture
def wired(env):
    sent = []
    deps = ActionDeps(commands=MemoryCommandQueue(), blocklist=MemoryBlocklist())
    runner = ActionRunner(service=env.service, deps=deps, clock=env.clock)
    engine = PlaybookEngine(
        playbooks=default_playbooks(),
        service=env.service,
        runner=runner,
        notify=lambda inc, params: sent.append((inc.id, params["channel"])),
        clock=env.clock,
    )
    engine.subscribe(env.dispatcher)
    yield engine, runner, deps, sent
    runner.close()


def test_critical_incident_notifies_and_creates_tasks(env, wired):
    engine, _, _, sent = wired
    iid = env.intake.submit(make_alert(level="critical", tags=())).incident_id
    assert sent == [(iid, "soc"), (iid, "customer")]
    inc = env.incidents.get(iid)
    assert [t.title for t in inc.tasks] == [
        "影響範囲（端末・アカウント）の確認",
        "証拠保全（ログ・メモリ・ディスク）",
    ]
    [run] = engine.runs.list(incident_id=iid)
    assert run.status == "completed"


def test_c2_block_runs_auto_action(env, wired):
    _, _, deps, _ = wired
    iid = env.intake.submit(
        make_alert(
            level="medium",
            tags=("attack.command-and-control",),
            event={"QueryName": "c2.bad.example", "DestinationIp": "203.0.113.50"},
        )
    ).incident_id
    assert sorted(e.value for e in deps.blocklist.list()) == ["203.0.113.50", "c2.bad.example"]
    kinds = [e.summary for e in env.incidents.get(iid).timeline if e.kind == "playbook"]
    assert kinds[0].startswith("プレイブック開始") and kinds[-1].startswith("プレイブック完了")


def test_isolation_waits_for_two_approvals(env, wired, analyst):
    engine, runner, deps, _ = wired
    iid = env.intake.submit(make_alert(level="high", tags=("attack.execution",))).incident_id
    [run] = [
        r for r in engine.runs.list(incident_id=iid) if r.playbook == "host-compromise-isolate"
    ]
    assert run.status == "waiting_approval"
    with pytest.raises(PermissionDeniedError):
        engine.approve(run.id, Actor(name="bot", role="system"))
    run = engine.approve(run.id, analyst)
    with pytest.raises(ValidationError, match="not waiting for approval"):
        engine.approve(run.id, analyst)
    assert run.status == "waiting_action"
    [pending] = runner.repo.list(status="pending_approval")
    assert pending.action == "isolate_host" and pending.params == {"host": "pc-01"}
    runner.approve(pending.id, Actor.customer("yamada", "acme"))
    run = engine.runs.get(run.id)
    assert run.status == "completed"
    assert deps.commands.pending("acme", "pc-01", env.clock())[0].kind.value == "isolate_host"
    # grouped alerts do not start the same playbook again
    env.intake.submit(make_alert("r-2", level="high", tags=("attack.persistence",)))
    assert (
        len(
            [
                r
                for r in engine.runs.list(incident_id=iid)
                if r.playbook == "host-compromise-isolate"
            ]
        )
        == 1
    )


def test_failed_action_fails_the_run(env, analyst):
    text = (
        "name: iso\ntrigger: {severity: [high]}\n"
        "steps:\n  - action: isolate_host\n    approval: auto\n"
    )
    [pb], _ = parse_playbooks(text, "t.yaml")
    runner = ActionRunner(service=env.service, deps=ActionDeps(), clock=env.clock)
    engine = PlaybookEngine(playbooks=[pb], service=env.service, runner=runner, clock=env.clock)
    engine.subscribe(env.dispatcher)
    try:
        iid = env.intake.submit(make_alert()).incident_id
        [run] = engine.runs.list(incident_id=iid)
        assert run.status == "failed"
        assert "no endpoint command queue" in run.log[-1]
        assert runner.repo.list()[0].status is ActionStatus.FAILED
        assert any("プレイブック失敗" in e.summary for e in env.incidents.get(iid).timeline)
    finally:
        runner.close()


def test_tenant_playbook_overrides_global(env):
    glob = "name: p\ntrigger: {severity: [high]}\nsteps:\n  - task: global\n"
    own = "name: p\ntrigger: {severity: [high]}\nsteps:\n  - task: own\n"
    pbs = parse_playbooks(glob, "g.yaml")[0] + parse_playbooks(own, "o.yaml", tenant="acme")[0]
    runner = ActionRunner(service=env.service, deps=ActionDeps(), clock=env.clock)
    engine = PlaybookEngine(playbooks=pbs, service=env.service, runner=runner, clock=env.clock)
    engine.subscribe(env.dispatcher)
    try:
        a = env.intake.submit(make_alert()).incident_id
        b = env.intake.submit(make_alert(tenant="beta", host="x")).incident_id
        assert [t.title for t in env.incidents.get(a).tasks] == ["own"]
        assert [t.title for t in env.incidents.get(b).tasks] == ["global"]
    finally:
        runner.close()


def test_unexpected_step_error_fails_the_run(env, monkeypatch):
    [pb], _ = parse_playbooks(
        "name: t\ntrigger: {severity: [high]}\nsteps:\n  - task: x\n", "t.yaml"
    )
    runner = ActionRunner(service=env.service, deps=ActionDeps(), clock=env.clock)
    engine = PlaybookEngine(playbooks=[pb], service=env.service, runner=runner, clock=env.clock)
    engine.subscribe(env.dispatcher)

    def boom(*args, **kwargs):
        raise ValidationError("incident was merged")

    monkeypatch.setattr(env.service, "add_task", boom)
    try:
        iid = env.intake.submit(make_alert()).incident_id
        [run] = engine.runs.list(incident_id=iid)
        assert run.status == "failed" and "incident was merged" in run.log[-1]
    finally:
        runner.close()
