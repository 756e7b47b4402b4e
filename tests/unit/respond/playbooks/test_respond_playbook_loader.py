import textwrap

import pytest

from mamori.respond.errors import PlaybookError
from mamori.respond.playbooks import (
    default_playbooks,
    load_file,
    load_tenant_dir,
    parse_playbooks,
    validate,
)

GOOD = textwrap.dedent(
    """\
    name: c2
    title: C2遮断
    trigger:
      min_severity: high
      tags: [attack.command_and_control]
    steps:
      - notify: {channel: soc}
      - task: 調査する
      - wait_for_approval: 遮断してよいか
      - action: block_indicator
        with: {from_observables: [domain]}
        approval: auto
        timeout: 30
    """
)


def test_good_playbook():
    [pb], errors = parse_playbooks(GOOD, "c2.yaml")
    assert errors == []
    assert [s.kind for s in pb.steps] == ["notify", "task", "wait_for_approval", "action"]
    assert pb.steps[3].line == 10 and pb.steps[3].timeout == 30.0
    assert pb.steps[1].params == {"title": "調査する"}


def test_unknown_action_reports_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        GOOD.replace("action: block_indicator", "action: format_disk"), encoding="utf-8"
    )
    with pytest.raises(PlaybookError) as info:
        load_file(path)
    assert str(info.value).startswith(f"{path}:10: unknown action 'format_disk'")
    assert info.value.location is not None and info.value.location.line == 10


def test_every_problem_collected():
    text = textwrap.dedent(
        """\
        name: Bad Name
        trigger:
          min_severity: urgent
          colour: red
          observable_types: [mac]
        steps:
          - action: isolate_host
            with: {hots: "@host"}
          - notify: {template: nope}
          - task: {title: ""}
          - action: block_indicator
            with: {values: "@observables.mac"}
            approval: maybe
            timeout: -1
          - {}
        """
    )
    _, errors = parse_playbooks(text, "p.yaml", collect_errors=True)
    messages = [str(e) for e in errors]
    expected = [
        ("p.yaml:1:", "playbook name 'Bad Name'"),
        ("p.yaml:3:", "unknown severity 'urgent'"),
        ("p.yaml:4:", "unknown trigger key 'colour'"),
        ("p.yaml:5:", "unknown observable type 'mac'"),
        ("p.yaml:8:", "unknown parameter 'hots'"),
        ("p.yaml:9:", "unknown notification template 'nope'"),
        ("p.yaml:10:", "a task needs a title"),
        ("p.yaml:12:", "unknown reference '@observables.mac'"),
        ("p.yaml:13:", "approval must be auto or manual"),
        ("p.yaml:14:", "timeout must be a positive number"),
        ("p.yaml:15:", "step 5 needs exactly one of"),
    ]
    for prefix, text_part in expected:
        assert any(m.startswith(prefix) and text_part in m for m in messages), (prefix, messages)
    with pytest.raises(PlaybookError):
        parse_playbooks(text, "p.yaml")


def test_yaml_syntax_error_has_line():
    _, errors = parse_playbooks("name: x\nsteps: [\n  - a: b\n", "s.yaml", collect_errors=True)
    assert errors and errors[0].location and errors[0].location.line is not None
    assert "not valid YAML" in str(errors[0])


def test_empty_and_duplicate():
    _, errors = parse_playbooks("", "e.yaml", collect_errors=True)
    assert "empty" in str(errors[0])
    _, errors = parse_playbooks(
        f"- {GOOD.replace(chr(10), chr(10) + '  ')}\n- {GOOD.replace(chr(10), chr(10) + '  ')}",
        "d.yaml",
        collect_errors=True,
    )
    assert any("used twice" in str(e) for e in errors)


def test_default_playbooks_validate():
    names = {p.name for p in default_playbooks()}
    assert {"critical-incident", "host-compromise-isolate", "c2-block"} <= names


def test_tenant_dir_and_validate(tmp_path):
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "own.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "acme" / "broken.yml").write_text("name: x\n", encoding="utf-8")
    found, errors = load_tenant_dir(tmp_path, collect_errors=True)
    assert [p.tenant for p in found] == ["acme"]
    assert errors and "broken.yml" in str(errors[0])
    assert validate([tmp_path / "acme" / "own.yaml"]) == []
    assert "cannot read" in str(validate([tmp_path / "missing.yaml"])[0])
