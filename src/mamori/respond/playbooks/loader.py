"""Loading and validating playbook YAML, with every problem reported as file:line.

A playbook file holds one playbook (a mapping) or a list of them::

    name: c2-block                  # unique, snake/kebab case
    title: C2通信の遮断
    trigger:
      on: [opened]                  # opened | grouped
      min_severity: high            # or severity: [high, critical]
      tags: [attack.command_and_control]
      observable_types: [domain, ip]
    steps:
      - notify: {channel: soc, template: incident_opened}
      - task: {title: プロキシログを確認}
      - wait_for_approval: {message: 遮断してよいか確認}
      - action: block_indicator
        with: {from_observables: [domain, ip]}
        approval: auto              # auto | manual (manual wins over policy)
        timeout: 60

Values in ``with`` may refer to the incident: ``@host``, ``@user``, ``@observables.<kind>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mamori.errors import SourceLocation
from mamori.model import Severity
from mamori.respond.actions import actions
from mamori.respond.errors import PlaybookError
from mamori.respond.models import ObservableKind
from mamori.respond.notify.templates import KINDS as TEMPLATE_KINDS
from mamori.respond.playbooks.model import Playbook, Step, Trigger

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_STEP_KINDS = ("notify", "task", "action", "wait_for_approval")
REFERENCES = ("@host", "@hosts", "@user", "@users") + tuple(
    f"@observables.{k.value}" for k in ObservableKind
)


class _Map(dict[str, Any]):
    """A mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


class _Seq(list[Any]):
    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    pass


def _mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    out = _Map()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        # keys as written: YAML 1.1 would read the trigger key ``on`` as True
        key = (
            key_node.value
            if isinstance(key_node, yaml.ScalarNode)
            else loader.construct_object(key_node, deep=True)
        )
        out[str(key)] = loader.construct_object(value_node, deep=True)
        out.key_lines[str(key)] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def _parse(text: str, source: str) -> Any:
    loader = _LineLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise PlaybookError(
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            location=SourceLocation(source, line),
        ) from None
    finally:
        loader.dispose()


class _Collector:
    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[PlaybookError] = []

    def error(self, message: str, line: int | None) -> None:
        self.errors.append(PlaybookError(message, location=SourceLocation(self.source, line)))


def _line_of(mapping: Any, key: str | None = None) -> int | None:
    if isinstance(mapping, _Map):
        if key is not None and key in mapping.key_lines:
            return mapping.key_lines[key]
        return mapping.line
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _trigger(data: Any, c: _Collector, line: int | None) -> Trigger:
    if data is None:
        c.error("playbook has no trigger", line)
        return Trigger()
    if not isinstance(data, dict):
        c.error("trigger must be a mapping", _line_of(data) or line)
        return Trigger()
    known = {"on", "severity", "min_severity", "tags", "observable_types", "tenants"}
    for key in data:
        if key not in known:
            c.error(
                f"unknown trigger key {key!r} (known: {', '.join(sorted(known))})",
                _line_of(data, key),
            )
    on = tuple(str(x) for x in _as_list(data.get("on", "opened")))
    for value in on:
        if value not in ("opened", "grouped"):
            c.error(f"trigger on {value!r} is not opened or grouped", _line_of(data, "on"))
    severities: set[Severity] = set()
    for value in _as_list(data.get("severity")):
        try:
            severities.add(Severity.parse(str(value)))
        except ValueError as exc:
            c.error(str(exc), _line_of(data, "severity"))
    min_sev = None
    if data.get("min_severity") is not None:
        try:
            min_sev = Severity.parse(str(data["min_severity"]))
        except ValueError as exc:
            c.error(str(exc), _line_of(data, "min_severity"))
    kinds: set[ObservableKind] = set()
    for value in _as_list(data.get("observable_types")):
        try:
            kinds.add(ObservableKind(str(value)))
        except ValueError:
            known_kinds = ", ".join(k.value for k in ObservableKind)
            c.error(
                f"unknown observable type {value!r} (known: {known_kinds})",
                _line_of(data, "observable_types"),
            )
    return Trigger(
        on=tuple(x for x in on if x in ("opened", "grouped")),  # type: ignore[misc]
        severities=frozenset(severities),
        min_severity=min_sev,
        tags=frozenset(str(t) for t in _as_list(data.get("tags"))),
        observable_types=frozenset(kinds),
        tenants=frozenset(str(t) for t in _as_list(data.get("tenants"))),
    )


def _check_refs(params: Any, c: _Collector, line: int | None) -> None:
    values = (
        params.values()
        if isinstance(params, dict)
        else params
        if isinstance(params, list)
        else [params]
    )
    for value in values:
        if isinstance(value, dict | list):
            _check_refs(value, c, line)
        elif isinstance(value, str) and value.startswith("@") and value not in REFERENCES:
            c.error(f"unknown reference {value!r} (known: {', '.join(REFERENCES)})", line)


def _step(index: int, data: Any, c: _Collector, line: int | None) -> Step | None:
    if not isinstance(data, dict):
        c.error(f"step {index + 1} must be a mapping", line)
        return None
    kinds = [k for k in _STEP_KINDS if k in data]
    if len(kinds) != 1:
        c.error(
            f"step {index + 1} needs exactly one of {', '.join(_STEP_KINDS)}"
            + (f" (has {', '.join(kinds)})" if kinds else ""),
            _line_of(data) or line,
        )
        return None
    kind = kinds[0]
    allowed = {kind, "name", "with", "approval", "timeout"} if kind == "action" else {kind, "name"}
    for key in data:
        if key not in allowed:
            c.error(f"step {index + 1}: unknown key {key!r} for a {kind} step", _line_of(data, key))
    body = data[kind]
    name = str(data.get("name") or f"{index + 1}:{kind}")
    if kind == "action":
        action = str(body) if body is not None else ""
        params = data.get("with") or {}
        kline = _line_of(data, "action")
        if action not in actions:
            c.error(f"unknown action {action!r} (known: {', '.join(actions.names())})", kline)
            return None
        if not isinstance(params, dict):
            c.error(f"step {index + 1}: 'with' must be a mapping", _line_of(data, "with"))
            return None
        for problem in actions.get(action)().check_params(params):
            c.error(problem, _line_of(data, "with") or kline)
        _check_refs(params, c, _line_of(data, "with"))
        approval = data.get("approval")
        if approval is not None and approval not in ("auto", "manual"):
            c.error(
                f"approval must be auto or manual, not {approval!r}", _line_of(data, "approval")
            )
        timeout = data.get("timeout")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            c.error(
                f"timeout must be a positive number of seconds, not {timeout!r}",
                _line_of(data, "timeout"),
            )
            timeout = None
        return Step(
            kind="action",
            name=name,
            line=kline or 0,
            action=action,
            params=dict(params),
            approval=approval,
            timeout=float(timeout) if timeout is not None else None,
        )
    sline = _line_of(data, kind) or 0
    if kind == "task":
        params = body if isinstance(body, dict) else {"title": body}
        if not str(params.get("title") or "").strip():
            c.error(f"step {index + 1}: a task needs a title", sline)
            return None
        return Step(kind="task", name=name, line=sline, params=dict(params))
    if kind == "notify":
        params = dict(body or {}) if isinstance(body, dict | type(None)) else {"channel": body}
        template = params.get("template", "incident_opened")
        if template not in TEMPLATE_KINDS:
            c.error(
                f"unknown notification template {template!r} (known: {', '.join(TEMPLATE_KINDS)})",
                sline,
            )
        if params.get("lang", "ja") not in ("ja", "en"):
            c.error(f"notification language must be ja or en, not {params.get('lang')!r}", sline)
        return Step(kind="notify", name=name, line=sline, params=params)
    params = dict(body or {}) if isinstance(body, dict | type(None)) else {"message": str(body)}
    return Step(kind="wait_for_approval", name=name, line=sline, params=params)


def _playbook(data: Any, c: _Collector, tenant: str | None) -> Playbook | None:
    line = _line_of(data)
    if not isinstance(data, dict):
        c.error("a playbook must be a mapping", line)
        return None
    known = {"name", "title", "description", "trigger", "steps", "enabled"}
    for key in data:
        if key not in known:
            c.error(
                f"unknown playbook key {key!r} (known: {', '.join(sorted(known))})",
                _line_of(data, key),
            )
    name = str(data.get("name") or "")
    if not _NAME.match(name):
        c.error(
            f"playbook name {name!r} must be lower-case letters, digits, - or _",
            _line_of(data, "name") or line,
        )
    trigger = _trigger(data.get("trigger"), c, line)
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        c.error("playbook needs a non-empty list of steps", _line_of(data, "steps") or line)
        raw_steps = []
    lines = getattr(raw_steps, "item_lines", [])
    steps = []
    for i, raw in enumerate(raw_steps):
        step = _step(i, raw, c, lines[i] if i < len(lines) else None)
        if step is not None:
            steps.append(step)
    return Playbook(
        name=name,
        title=str(data.get("title") or name),
        trigger=trigger,
        steps=tuple(steps),
        source=c.source,
        line=line or 1,
        tenant=tenant,
        enabled=bool(data.get("enabled", True)),
        description=str(data.get("description") or ""),
    )


def parse_playbooks(
    text: str, source: str, *, tenant: str | None = None, collect_errors: bool = False
) -> tuple[list[Playbook], list[PlaybookError]]:
    """Parse one file's text. Raises the first PlaybookError unless ``collect_errors``."""
    c = _Collector(source)
    out: list[Playbook] = []
    try:
        data = _parse(text, source)
    except PlaybookError as exc:
        c.errors.append(exc)
        data = None
    if data is not None or not c.errors:
        items = data if isinstance(data, list) else [data]
        if data is None:
            c.error("the file is empty", 1)
            items = []
        for item in items:
            pb = _playbook(item, c, tenant)
            if pb is not None:
                out.append(pb)
        names = [p.name for p in out]
        for p in out:
            if names.count(p.name) > 1:
                c.error(f"playbook name {p.name!r} is used twice in this file", p.line)
                break
    if c.errors and not collect_errors:
        raise c.errors[0]
    return ([] if c.errors else out), c.errors


def load_file(
    path: Path, *, tenant: str | None = None, collect_errors: bool = False
) -> tuple[list[Playbook], list[PlaybookError]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        err = PlaybookError(f"cannot read: {exc}", location=SourceLocation(str(path)))
        if not collect_errors:
            raise err from None
        return [], [err]
    return parse_playbooks(text, str(path), tenant=tenant, collect_errors=collect_errors)


def default_playbooks() -> list[Playbook]:
    """The playbooks shipped as package data (``playbooks/data/*.yaml``)."""
    out: list[Playbook] = []
    root = resources.files("mamori.respond.playbooks").joinpath("data")
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            found, _ = parse_playbooks(entry.read_text("utf-8"), f"mamori:playbooks/{entry.name}")
            out.extend(found)
    return out


def load_tenant_dir(
    root: Path, *, collect_errors: bool = False
) -> tuple[list[Playbook], list[PlaybookError]]:
    """Per-tenant playbooks: ``<root>/<tenant>/*.yaml``."""
    playbooks: list[Playbook] = []
    errors: list[PlaybookError] = []
    if not root.is_dir():
        return playbooks, errors
    for tenant_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(tenant_dir.glob("*.y*ml")):
            found, errs = load_file(path, tenant=tenant_dir.name, collect_errors=collect_errors)
            playbooks.extend(found)
            errors.extend(errs)
    return playbooks, errors


def resolve(value: Any, refs: dict[str, Any]) -> Any:
    """Replace ``@host``-style references in step parameters with incident values."""
    if isinstance(value, str) and value in refs:
        return refs[value]
    if isinstance(value, dict):
        return {k: resolve(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    return value


def validate(paths: Iterable[Path]) -> list[PlaybookError]:
    errors: list[PlaybookError] = []
    for path in paths:
        errors.extend(load_file(path, collect_errors=True)[1])
    return errors


__all__ = [
    "REFERENCES",
    "default_playbooks",
    "load_file",
    "load_tenant_dir",
    "parse_playbooks",
    "resolve",
    "validate",
]
