"""Field mapping and event constraints per Sigma logsource, as pySigma processing pipelines.

The data lives in ``logsources.yml`` beside this module. A rule's logsource
``(product, category, service)`` is looked up exactly; each match is a :class:`Variant`: the
events the rule may see (a :class:`Route`) and a pySigma :class:`ProcessingPipeline` that
renames the rule's fields for those events (``Image`` -> ``NewProcessName`` on Security 4688).
A logsource with no entry raises :class:`~mamori.errors.RuleError`: such a rule is refused,
never run against every event. Adding a log source is adding an entry to the YAML file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    FieldMappingTransformation,
    ValueListPlaceholderTransformation,
)

from mamori.errors import RuleError

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"


@dataclass(frozen=True, slots=True)
class Route:
    """Which events a compiled rule may see.

    Windows routes name channels (lower-cased) and optionally event ids; ``channels == ()``
    with ``kind == "windows"`` means every Windows event. Other routes name data_type prefixes.
    """

    kind: str  # "windows" or "data_type"
    channels: tuple[str, ...] = ()
    event_ids: tuple[int, ...] = ()
    data_types: tuple[str, ...] = ()

    def route_keys(self) -> list[tuple[str, str | None, int | None]]:
        """Routing keys this route registers under (see :mod:`mamori.detect.engine`)."""
        if self.kind == "windows":
            if not self.channels:
                return [("win", None, None)]
            eids: tuple[int | None, ...] = self.event_ids or (None,)
            return [("win", ch, eid) for ch in self.channels for eid in eids]
        return [("dt", dt, None) for dt in self.data_types]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "channels": list(self.channels),
            "event_ids": list(self.event_ids),
            "data_types": list(self.data_types),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Route:
        return cls(
            kind=str(data["kind"]),
            channels=tuple(data.get("channels") or ()),
            event_ids=tuple(int(x) for x in data.get("event_ids") or ()),
            data_types=tuple(data.get("data_types") or ()),
        )

    def describe(self) -> str:
        if self.kind == "windows":
            if not self.channels:
                return "windows (all channels)"
            ids = ",".join(str(i) for i in self.event_ids) or "*"
            return f"{'|'.join(self.channels)} EventID {ids}"
        return "data_type " + "|".join(self.data_types)


@dataclass(frozen=True)
class Variant:
    """One way a logsource is observed: a route plus a field mapping."""

    name: str
    route: Route
    fields: dict[str, str] = field(default_factory=dict)

    def pipeline(
        self,
        logsource: tuple[str | None, str | None, str | None],
        placeholders: dict[str, list[str]] | None = None,
    ) -> ProcessingPipeline:
        """The pySigma pipeline applying this variant's mapping to a rule of ``logsource``."""
        product, category, service = logsource
        condition = LogsourceCondition(product=product, category=category, service=service)
        items: list[ProcessingItem] = []
        if self.fields:
            items.append(
                ProcessingItem(
                    identifier=f"mamori_{self.name}_fields",
                    transformation=FieldMappingTransformation(
                        {k: v for k, v in self.fields.items()}  # noqa: C416 - widen key type
                    ),
                    rule_conditions=[condition],
                )
            )
        if placeholders:
            items.append(
                ProcessingItem(
                    identifier="mamori_placeholders",
                    # only the names given: any other placeholder reaches the backend,
                    # which refuses the rule saying that it has no value
                    transformation=ValueListPlaceholderTransformation(include=sorted(placeholders)),
                )
            )
        return ProcessingPipeline(
            name=f"mamori {self.name}",
            priority=20,
            items=items,
            vars=dict(placeholders or {}),
        )


LogsourceKey = tuple[str | None, str | None, str | None]


class LogsourceMap:
    """All known logsources (from ``logsources.yml`` or a given mapping)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.variants: dict[LogsourceKey, list[Variant]] = {}
        self._build(data)
        text = yaml.safe_dump(data, sort_keys=True)
        self.digest = hashlib.sha256(text.encode()).hexdigest()[:16]

    def _add(self, key: LogsourceKey, variant: Variant) -> None:
        self.variants.setdefault(key, []).append(variant)

    def _build(self, data: dict[str, Any]) -> None:
        self._add(("windows", None, None), Variant("windows", Route("windows")))
        for service, channels in (data.get("windows_services") or {}).items():
            route = Route("windows", channels=tuple(c.lower() for c in channels))
            self._add(("windows", None, service), Variant(f"windows_{service}", route))
        sysmon = SYSMON_CHANNEL.lower()
        for category, ids in (data.get("sysmon_categories") or {}).items():
            route = Route("windows", channels=(sysmon,), event_ids=tuple(ids))
            self._add(("windows", category, None), Variant(f"sysmon_{category}", route))
            # Sysmon categories named together with the sysmon service
            self._add(("windows", category, "sysmon"), Variant(f"sysmon_{category}", route))
        for product, section in (("windows", "windows_categories"), ("linux", "linux_categories")):
            for category, entries in (data.get(section) or {}).items():
                for number, entry in enumerate(entries):
                    route = Route(
                        "windows",
                        channels=tuple(c.lower() for c in entry.get("channels") or ()),
                        event_ids=tuple(entry.get("event_ids") or ()),
                    )
                    self._add(
                        (product, category, None),
                        Variant(
                            f"{product}_{category}_{number}",
                            route,
                            dict(entry.get("fields") or {}),
                        ),
                    )
        for service, prefixes in (data.get("linux_services") or {}).items():
            route = Route("data_type", data_types=tuple(prefixes))
            self._add(("linux", None, service), Variant(f"linux_{service}", route))
        for entry in data.get("generic") or ():
            key = (entry.get("product"), entry.get("category"), entry.get("service"))
            route = Route("data_type", data_types=tuple(entry.get("data_types") or ()))
            name = "_".join(str(k) for k in key if k)
            self._add(key, Variant(name, route, dict(entry.get("fields") or {})))

    def variants_for(self, logsource: LogsourceKey, *, where: str = "") -> list[Variant]:
        """The variants of an exact logsource, or :class:`RuleError` when none is known."""
        product, category, service = (v.lower() if isinstance(v, str) else None for v in logsource)
        key = (product, category, service)
        found = self.variants.get(key)
        if found:
            return found
        shown = ", ".join(
            f"{n}: {v}" for n, v in zip(("product", "category", "service"), key, strict=True) if v
        )
        raise RuleError(
            f"logsource {{{shown or 'empty'}}} cannot be mapped to any event source; "
            "rule refused (it would otherwise run against every event)"
            + (f" [{where}]" if where else "")
        )


@cache
def default_logsources() -> LogsourceMap:
    """The logsource map shipped with mamori."""
    text = resources.files("mamori.detect.sigma").joinpath("logsources.yml").read_text("utf-8")
    return LogsourceMap(yaml.safe_load(text))


__all__ = ["LogsourceKey", "LogsourceMap", "Route", "Variant", "default_logsources"]
