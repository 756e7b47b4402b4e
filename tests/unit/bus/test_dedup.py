from mamori.bus.dedup import Deduplicator


def test_bounded_memory():
    d = Deduplicator(capacity=3)
    assert [d.add(x) for x in "abca"] == [True, True, True, False]
    d.add("d")
    d.add("e")
    assert "a" not in d and "e" in d and len(d) == 3


def test_journal_survives_restart_and_compacts(tmp_path):
    path = tmp_path / "seen.ids"
    d = Deduplicator(capacity=5, path=path)
    for i in range(30):
        d.add(f"id{i}")
    d.close()
    assert len(path.read_text().splitlines()) <= 11
    again = Deduplicator(capacity=5, path=path)
    assert not again.add("id29")
    assert again.add("id0")
    again.close()
