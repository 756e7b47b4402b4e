"""Parse throughput per parser (events/s) on generated data; EVTX against the bare ``evtx``.

Run: ``.venv/bin/python bench/ingest_parsers.py [--lines 50000]``. Prints one line per
parser. The EVTX part runs only when ``mamori.ingest.parsers.evtx`` exists and the shared
samples (``../shared/data/evtx-attack-samples``) are present.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import random
import time
from pathlib import Path

from mamori.ingest.base import ParseContext
from mamori.ingest.parsers import parsers
from mamori.model import Event, Quarantined

REPO = Path(__file__).resolve().parents[1]
EVTX_DIR = REPO.parent / "shared" / "data" / "evtx-attack-samples"


class NullSink:
    def __init__(self) -> None:
        self.events = 0
        self.quarantined = 0

    def event(self, event: Event) -> None:  # noqa: ARG002
        self.events += 1

    def quarantine(self, item: Quarantined) -> None:  # noqa: ARG002
        self.quarantined += 1

    def warning(self, message: str) -> None:
        pass


def _ip(rnd: random.Random) -> str:
    return f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"


def generate(name: str, n: int, rnd: random.Random) -> bytes:
    lines = []
    for i in range(n):
        ip = _ip(rnd)
        sec = i % 60
        if name == "syslog":
            lines.append(
                rnd.choice(
                    [
                        f"<38>Nov 25 10:00:{sec:02d} web01 sshd[{i}]: Failed password for "
                        f"invalid user u{i} from {ip} port {1024 + i % 60000} ssh2",
                        f"Nov 25 10:00:{sec:02d} web01 sudo:    alice : TTY=pts/0 ; "
                        f"PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id {i}",
                        f"<165>1 2026-11-25T10:00:{sec:02d}.003Z app01 billing {i} ID47 "
                        f'[origin ip="{ip}"] message {i}',
                    ]
                )
            )
        elif name == "auditd":
            lines.append(
                f"type=SYSCALL msg=audit(1764028800.{i % 1000:03d}:{i}): arch=c000003e syscall=59 "
                f'success=yes exit=0 a0=55 items=2 ppid=1 pid={i} auid=1000 uid=0 comm="cat" '
                f'exe="/usr/bin/cat" key="k"'
            )
        elif name == "netfilter":
            lines.append(
                f"Nov 25 10:00:{sec:02d} gw kernel: [1.0] [UFW BLOCK] IN=eth0 OUT= MAC=00:16 "
                f"SRC={ip} DST=192.0.2.1 LEN=40 TTL=50 ID={i} PROTO=TCP SPT={1024 + i % 60000} "
                f"DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0"
            )
        elif name == "utm_kv":
            lines.append(
                f'date=2026-11-25 time=10:00:{sec:02d} devname="FGT60F" logid="0000000013" '
                f'type="traffic" subtype="forward" level="notice" srcip={ip} srcport={i % 60000} '
                f'dstip=203.0.113.8 dstport=443 proto=6 action="deny" msg="Denied {i}"'
            )
        elif name == "web_access":
            lines.append(
                f'{ip} - - [25/Nov/2026:10:00:{sec:02d} +0900] "GET /p/{i}?q={i} HTTP/1.1" 200 '
                f'{i % 5000} "https://ref.example/" "Mozilla/5.0 (X11; Linux x86_64)"'
            )
        elif name == "squid":
            lines.append(
                f"1764032400.{i % 1000:03d} {i % 900} {ip} TCP_MISS/200 {i} GET "
                f"http://download.example.com/f/{i}.exe?v=1 - HIER_DIRECT/198.51.100.40 "
                f"application/octet-stream"
            )
        elif name == "postfix":
            qid = f"{0xA00000 + i // 4:X}"
            lines.append(
                [
                    f"Nov 25 10:00:{sec:02d} mx postfix/smtpd[1]: {qid}: client=unknown[{ip}]",
                    f"Nov 25 10:00:{sec:02d} mx postfix/qmgr[2]: {qid}: from=<a{i}@ex.com>, "
                    f"size={i}, nrcpt=1 (queue active)",
                    f"Nov 25 10:00:{sec:02d} mx postfix/smtp[3]: {qid}: to=<b@corp.jp>, "
                    f"relay=mx.corp.jp[192.0.2.10]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, "
                    f"status=sent (250 ok)",
                    f"Nov 25 10:00:{sec:02d} mx postfix/qmgr[2]: {qid}: removed",
                ][i % 4]
            )
        elif name == "json_lines":
            lines.append(
                f'{{"time": "2026-11-25T10:00:{sec:02d}Z", "device": {{"name": "nas"}}, '
                f'"evt": {{"user": "u{i}", "action": "login"}}, "src": "{ip}"}}'
            )
        else:
            return b""
    return ("\n".join(lines) + "\n").encode()


def bench_text(n: int) -> None:
    rnd = random.Random(7)
    for name, cls in parsers.items():
        data = generate(name, n, rnd)
        if not data:
            continue
        sink = NullSink()
        parser = cls()
        start = time.perf_counter()
        parser.parse(io.BytesIO(data), sink, ParseContext(tenant="t", location="bench"))
        took = time.perf_counter() - start
        print(
            f"{name:12s} {sink.events:8d} events {took:7.2f} s {sink.events / took:10.0f} ev/s"
            f"  (quarantined {sink.quarantined})"
        )


def bench_evtx() -> None:
    if importlib.util.find_spec("mamori.ingest.parsers.evtx") is None:
        print("evtx         parser not present on this branch (skipped)")
        return
    if not EVTX_DIR.is_dir():
        print(f"evtx         samples not found at {EVTX_DIR} (skipped)")
        return
    from evtx import PyEvtxParser

    files = sorted(EVTX_DIR.rglob("*.evtx"))
    start = time.perf_counter()
    raw = 0
    for path in files:
        try:
            raw += sum(1 for _ in PyEvtxParser(str(path)).records_json())
        except Exception:  # noqa: S112 - broken samples are skipped in both runs
            continue
    bare = time.perf_counter() - start
    cls = parsers.get("evtx")
    sink = NullSink()
    start = time.perf_counter()
    for path in files:
        with open(path, "rb") as fh:
            cls().parse(fh, sink, ParseContext(tenant="t", location=str(path)))
    ours = time.perf_counter() - start
    print(f"evtx (bare)  {raw:8d} records {bare:7.2f} s {raw / bare:10.0f} rec/s")
    print(
        f"evtx         {sink.events:8d} events {ours:7.2f} s {sink.events / ours:10.0f} ev/s"
        f"  ({ours / bare:.1f}x the bare evtx time, quarantined {sink.quarantined})"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=50_000)
    args = ap.parse_args()
    bench_text(args.lines)
    bench_evtx()


if __name__ == "__main__":
    main()
