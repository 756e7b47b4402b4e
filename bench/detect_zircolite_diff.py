"""Per-rule comparison with Zircolite on evtx-attack-samples (issue 3).

Prints, for every rule title in ../shared/data/detection/zircolite-sysmon-hits.tsv and every
rule mamori fires, the distinct events each engine hit, and lists the rules where mamori
finds fewer (those need an explanation) and where it finds more.

Run: .venv/bin/python bench/detect_zircolite_diff.py
"""

from __future__ import annotations

import csv
import tempfile
from collections import Counter
from pathlib import Path

from mamori.detect.engine import SigmaEngine
from mamori.detect.hunt import hunt
from mamori.detect.sigma.loader import load_rules

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rules = load_rules([DATA / "sigma-rules" / "windows"], cache_dir=Path(tmp))
    engine = SigmaEngine(rules, defer_correlation=True)
    result = hunt([DATA / "evtx-attack-samples"], engine)
    ours = Counter(a.rule_title for a in result.alerts)
    with (DATA / "detection" / "zircolite-sysmon-hits.tsv").open() as fh:
        theirs = {row["title"]: int(row["hits"]) for row in csv.DictReader(fh, delimiter="\t")}
    fewer = {t: (h, ours.get(t, 0)) for t, h in theirs.items() if ours.get(t, 0) < h}
    more = {t: (theirs.get(t, 0), n) for t, n in ours.items() if n > theirs.get(t, 0)}
    print(
        f"events: {result.events}; mamori rule-event pairs: {sum(ours.values())} "
        f"({len(ours)} rules); zircolite: {sum(theirs.values())} ({len(theirs)} rules)"
    )
    print(f"rules where mamori finds fewer: {len(fewer)}")
    for title, (z, m) in sorted(fewer.items()):
        print(f"  FEWER  zircolite={z:4d} mamori={m:4d}  {title}")
    print(f"rules where mamori finds more: {len(more)}")
    for title, (z, m) in sorted(more.items(), key=lambda kv: kv[1][0] - kv[1][1]):
        print(f"  MORE   zircolite={z:4d} mamori={m:4d}  {title}")


if __name__ == "__main__":
    main()
