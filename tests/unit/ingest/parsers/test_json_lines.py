import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.errors import ParseError
from mamori.ingest.base import ParseContext
from mamori.ingest.parsers.json_lines import TIMESTAMP_FIELDS, JsonLinesParser, flatten

MAPPING = {
    "mapping": {"evt.user": "user", "evt.action": "action", "src": "src_ip"},
    "host_field": "device.name",
    "data_type": "nas:audit",
}


def test_sniff(fixture_data):
    assert JsonLinesParser.sniff(fixture_data("json_lines"))
    assert not JsonLinesParser.sniff(b"[1, 2]\n")
    assert not JsonLinesParser.sniff(b"Nov 25 10:00:00 h app: x\n")
    assert not JsonLinesParser.sniff(b"")


def test_fixture_counts_and_first_record(run, fixture_data):
    sink = run("json_lines", fixture_data("json_lines"), **MAPPING)
    assert len(sink.events) == 3
    assert sink.quarantined == [] and sink.warnings == []
    first = sink.events[0]
    assert first.timestamp == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    assert first.host == "nas01"
    assert first.data_type == "nas:audit"
    assert first.fields == {
        "time": "2026-11-25T01:00:00Z",
        "device.name": "nas01",
        "user": "tanaka",
        "action": "file_delete",
        "evt.path": "/share/keiri/2026.xlsx",
        "src_ip": "10.0.0.40",
    }


def test_epoch_and_offset_timestamps_and_lists(run, fixture_data):
    events = run("json_lines", fixture_data("json_lines"), **MAPPING).events
    assert events[1].timestamp == datetime(2025, 11, 25, 1, 1, tzinfo=UTC)
    assert events[1].fields["tags"] == ["smb", "auth"]
    assert events[2].timestamp == datetime(2026, 11, 25, 1, 2, 0, 500000, tzinfo=UTC)


def test_custom_timestamp_format_and_envelope_collisions(run):
    line = b'{"when": "25/11/2026 10:00", "source": "x", "raw": "y", "host": "h9"}\n'
    ev = run(
        "json_lines",
        line,
        timestamp_field="when",
        timestamp_format="%d/%m/%Y %H:%M",
        timezone="Asia/Tokyo",
    ).events[0]
    assert ev.timestamp == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    assert ev.host == "h9"
    assert ev.source == "json_lines"
    assert ev.fields["orig.source"] == "x" and ev.fields["orig.raw"] == "y"


def test_not_objects_and_bad_json_are_quarantined(run):
    data = b'[1, 2]\n"text"\n{bad json\n{"a": 1}\n' + b"[" * 100_000 + b"\n"
    sink = run("json_lines", data)
    reasons = [q.reason for q in sink.quarantined]
    assert reasons[0] == "JSON value is not an object (got list)"
    assert reasons[1] == "JSON value is not an object (got str)"
    assert reasons[2].startswith("invalid JSON")
    assert reasons[3].startswith("invalid JSON")
    assert len(sink.events) == 1
    assert sink.events[0].fields == {"a": 1, "timestamp_missing": True}


def test_missing_configured_timestamp_is_quarantined(run):
    sink = run("json_lines", b'{"a": 1}\n', timestamp_field="ts")
    assert sink.quarantined[0].reason == "timestamp field 'ts' missing"


def test_bad_mapping_option():
    with pytest.raises(ParseError, match="mapping"):
        JsonLinesParser(mapping=["a"])


def test_flatten_deep_objects():
    deep: dict = {}
    node = deep
    for _ in range(40):
        node["k"] = {}
        node = node["k"]
    node["v"] = 1
    flat = flatten(deep)
    ((key, value),) = flat.items()
    assert key.count(".") == 32
    assert isinstance(value, str)


def test_nul_characters_in_json_strings_are_escaped(run):
    ev = run("json_lines", b'{"a\\u0000b": "x\\u0000y", "n": {"m": "\\u0000"}}\n').events[0]
    assert ev.fields == {"a\\x00b": "x\\x00y", "n.m": "\\x00", "timestamp_missing": True}


def _reference_fields(parser, line):
    """The fields as the parser used to build them: a fresh dict, renamed key by key."""
    from mamori.model import ENVELOPE_FIELDS

    flat = flatten(json.loads(line))
    fields = {}
    for key, item in flat.items():
        target = parser.mapping.get(key, key)
        if target in ENVELOPE_FIELDS and target not in ("@timestamp",):
            target = f"orig.{target}"
        fields[target] = item
    names = (parser.timestamp_field,) if parser.timestamp_field else TIMESTAMP_FIELDS
    for name in names:
        if name in flat and flat[name] not in (None, ""):
            fields.pop("@timestamp", None)
            break
    return fields


_KEYS = st.sampled_from(
    ["@timestamp", "host", "hostname", "source", "raw", "tenant", "event_id", "data_type",
     "orig.host", "user", "a", "time", "evt"]
)  # fmt: skip
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["", "x", "h1"]),
    lambda inner: st.dictionaries(_KEYS, inner, max_size=3) | st.lists(inner, max_size=2),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    record=st.dictionaries(_KEYS, _VALUES, max_size=7),
    options=st.sampled_from([{}, MAPPING, {"mapping": {"user": "host", "a": "@timestamp"}}]),
)
def test_fields_are_what_the_key_by_key_renaming_gives(record, options):
    parser = JsonLinesParser(**options)
    line = json.dumps(record)
    context = ParseContext(tenant="acme", location="t", received_at=datetime.now(UTC))
    try:
        event = parser.parse_line(line, context, 1)
    except ParseError:
        return  # a timestamp that is none (the reference reads no timestamps)
    expected = _reference_fields(parser, line)
    if "timestamp_missing" in event.fields and "timestamp_missing" not in expected:
        expected["timestamp_missing"] = True
    assert event.fields == expected
    assert list(event.fields) == list(expected)  # the same order: the same stored JSON
    assert event.host == parser._host(flatten(json.loads(line)))
