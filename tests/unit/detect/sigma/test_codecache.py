"""The predicate bytecode cache: same results, reuse across starts, bad files ignored."""

from __future__ import annotations

import marshal
from datetime import UTC, datetime
from pathlib import Path

from mamori.detect.sigma.codecache import CodeCache, code_cache_path
from mamori.detect.sigma.matcher import compile_predicate, prepare

T = datetime(2024, 1, 1, tzinfo=UTC)
IR = ["and", [["str", "endswith", "Image", "\\mimikatz.exe", False], ["num", "EventID", 1]]]


def _run(pred, fields):
    lowered, hay = prepare(fields)
    return pred(fields, lowered, hay, T)


def test_cached_bytecode_gives_the_same_predicate(tmp_path: Path) -> None:
    path = code_cache_path(tmp_path)
    first = CodeCache(path)
    pred = compile_predicate(IR, "<r>", first)
    assert first.misses == 1 and first.hits == 0
    assert first.save() is True
    assert first.save() is False  # nothing new

    second = CodeCache(path)
    again = compile_predicate(IR, "<r>", second)
    assert second.hits == 1 and second.misses == 0
    hit = {"Image": "C:\\Tools\\MIMIKATZ.EXE", "EventID": 1}
    miss = {"Image": "C:\\Windows\\cmd.exe", "EventID": 1}
    for p in (pred, again):
        assert _run(p, hit) is True
        assert _run(p, miss) is False


def test_other_source_is_not_served_from_the_cache(tmp_path: Path) -> None:
    cache = CodeCache(code_cache_path(tmp_path))
    compile_predicate(IR, "<r>", cache)
    other = ["str", "eq", "Image", "cmd.exe", False]
    pred = compile_predicate(other, "<r>", cache)
    assert cache.misses == 2
    assert _run(pred, {"Image": "CMD.exe"}) is True


def test_corrupt_or_foreign_cache_files_are_ignored(tmp_path: Path) -> None:
    path = code_cache_path(tmp_path)
    path.write_bytes(b"\x00garbage")
    cache = CodeCache(path)
    assert cache.codes == {}
    path.write_bytes(marshal.dumps(["not", "a", "mapping"]))
    assert CodeCache(path).codes == {}
    path.write_bytes(marshal.dumps({"k": 1, 2: "x"}))  # wrong shapes are dropped
    assert CodeCache(path).codes == {}
    pred = compile_predicate(IR, "<r>", CodeCache(path))
    assert _run(pred, {"Image": "x\\mimikatz.exe", "EventID": 1}) is True


def test_unwritable_cache_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = CodeCache(blocker / "sub" / "c.marshal")  # parent is a file
    compile_predicate(IR, "<r>", cache)
    assert cache.save() is False


def test_without_a_path_the_cache_is_in_memory_only() -> None:
    cache = CodeCache()
    compile_predicate(IR, "<r>", cache)
    compile_predicate(IR, "<r>", cache)
    assert (cache.hits, cache.misses) == (1, 1)
    assert cache.save() is False


def test_rule_analysis_is_kept_per_rule_set(tmp_path: Path) -> None:
    path = code_cache_path(tmp_path)
    cache = CodeCache(path)
    items = [(("Image",), False, ("mimikatz",)), None, (("EventID",), True, None)]
    cache.keep_analysis("digest-1", items)  # type: ignore[arg-type]
    assert cache.save() is True
    again = CodeCache(path)
    assert again.analysis("digest-1") == items
    assert again.analysis("digest-2") is None
    assert again.analysis("") is None


def test_malformed_analyses_are_dropped(tmp_path: Path) -> None:
    path = code_cache_path(tmp_path)
    cache = CodeCache(path)
    cache.keep_analysis("d", [(("Image",), False, None)])
    cache.save()
    data = marshal.loads(path.read_bytes())  # noqa: S302 - our own test file
    key = next(iter(data["analyses"]))
    data["analyses"][key] = [(("Image",), "yes", None)]  # keyword flag not a bool
    path.write_bytes(marshal.dumps(data))
    assert CodeCache(path).analysis("d") is None
