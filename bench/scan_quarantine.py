"""Quarantine list cost: one page from the index versus reading every metadata file.

"files" is what a list cost before the index (read and parse every ``<id>.json``, sort);
"index page" is ``QuarantineStore.list(limit=50)``; "index all" lists every item from the
index. Wall and CPU time, best of ``--rounds``.

    .venv/bin/python bench/scan_quarantine.py --items 2000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mamori.scan.quarantine import QuarantineItem, QuarantineStore


def _files_list(root: Path) -> list[QuarantineItem]:
    items = [
        QuarantineItem.from_dict(json.loads(p.read_text("utf-8"))) for p in root.glob("*.json")
    ]
    return sorted(items, key=lambda i: (i.created, i.id), reverse=True)


def _best(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return 1000 * min(wall), 1000 * min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = QuarantineStore(Path(tmp) / "q", b"k" * 32)
        start = time.perf_counter()
        for n in range(args.items):
            store.put(
                f"content {n}".encode(),
                kind="http",
                name=f"file-{n}.bin",
                tenant=("acme", "beta")[n % 2],
                meta={"url": f"http://origin.example/{n}"},
            )
        put_ms = 1000 * (time.perf_counter() - start) / args.items
        variants = {
            "files (before)": lambda: _files_list(store.root)[:50],
            "index page of 50": lambda: store.list(limit=50),
            "index page, 1 tenant": lambda: store.list(tenants=["acme"], limit=50),
            "index counts": store.counts,
            "index all items": store.list,
        }
        print(f"{args.items} items, put {put_ms:.2f} ms each (content, metadata, index)")
        for name, fn in variants.items():
            wall, cpu = _best(fn, args.rounds)
            print(f"  {name:<21} {wall:8.2f} ms wall {cpu:8.2f} ms CPU")


if __name__ == "__main__":
    main()
