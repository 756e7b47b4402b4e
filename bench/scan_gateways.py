"""Benchmarks of the scanning core and the gateways; prints figures (no assertions).

    .venv/bin/python bench/scan_gateways.py [--messages 40] [--requests 40] [--mb 32]

* SMTP: messages/s and median latency through the mail filter with a 1 MB attachment, scanning
  on versus relay-only (same code path, scanning disabled); the difference is the latency the
  filter adds (target: under 50 ms).
* ICAP: RESPMOD requests/s for 1 MB responses (preview 1024, Allow: 204).
* YARA-X: MB/s of the scanning core (engine with the YARA-X scanner) versus the ``yara-x``
  package scanning the same bytes directly (target: at least 70%).
"""

from __future__ import annotations

import argparse
import os
import random
import smtplib
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yara_x

from mamori.scan.base import ScanOptions
from mamori.scan.engine import ScanEngine
from mamori.scan.mail.gateway import MailGateway, MailGatewayConfig
from mamori.scan.mail.ppap import HoldStore
from mamori.scan.mail.relay import NextHop
from mamori.scan.quarantine import QuarantineStore
from mamori.scan.runner import ServiceThread
from mamori.scan.scanners.yara import compile_rules
from mamori.scan.testing import RecordingSmtpServer, icap_request, make_message
from mamori.scan.web.icap import IcapConfig, IcapServer

MB = 1024 * 1024


def payload(size: int, seed: int = 7) -> bytes:
    """Mixed content: text-like and binary runs, so the YARA-X atoms see realistic data."""
    rnd = random.Random(seed)
    words = [b"invoice", b"quotation", b"parts", b"order", b"\x00\x01\x02", b"http", b"MZ"]
    out = bytearray()
    while len(out) < size:
        if rnd.random() < 0.5:
            out += b" ".join(rnd.choice(words) for _ in range(16)) + b"\n"
        else:
            out += rnd.randbytes(256)
    return bytes(out[:size])


def bench_smtp(messages: int) -> None:
    attachment = payload(MB)
    raw = make_message(attachments=[("spec.pdf", b"%PDF-1.7\n" + attachment, "application/pdf")])
    engine = ScanEngine.from_options()
    with tempfile.TemporaryDirectory() as tmp, RecordingSmtpServer() as hop:
        results: dict[str, tuple[float, float, float]] = {}
        for label, scan in (("relay only", False), ("scan on", True)):
            gateway = MailGateway(
                engine,
                MailGatewayConfig(port=0, next_hop=NextHop(port=hop.port), scan=scan),
                quarantine=QuarantineStore(Path(tmp) / "q", os.urandom(32)),
                holds=HoldStore(Path(tmp) / "h"),
            )
            with ServiceThread(gateway):
                latencies = []
                with smtplib.SMTP("127.0.0.1", gateway.port, timeout=60) as smtp:
                    smtp.sendmail("a@x.jp", ["b@y.jp"], raw)  # warm-up
                    for _ in range(messages):
                        start = time.perf_counter()
                        smtp.sendmail("a@x.jp", ["b@y.jp"], raw)
                        latencies.append(time.perf_counter() - start)

                def one(_: int, port: int = gateway.port) -> None:
                    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                        for _ in range(max(messages // 4, 1)):
                            smtp.sendmail("a@x.jp", ["b@y.jp"], raw)

                start = time.perf_counter()
                with ThreadPoolExecutor(4) as pool:
                    list(pool.map(one, range(4)))
                parallel = 4 * max(messages // 4, 1) / (time.perf_counter() - start)
            median = statistics.median(latencies)
            results[label] = (median, 1 / statistics.mean(latencies), parallel)
            print(
                f"SMTP {label:<10}: median {median * 1000:7.1f} ms/msg, "
                f"{1 / statistics.mean(latencies):6.1f} msg/s sequential, "
                f"{parallel:6.1f} msg/s with 4 clients  (1 MB attachment, {len(raw)} bytes)"
            )
        added = (results["scan on"][0] - results["relay only"][0]) * 1000
        print(f"SMTP filter adds {added:.1f} ms median latency per 1 MB message (target < 50 ms)")


def bench_icap(requests: int) -> None:
    """1 MB RESPMODs; CPU time is the whole process (the client threads too)."""
    body = payload(MB)
    req = b"GET http://origin.example/file.bin HTTP/1.1\r\nHost: origin.example\r\n\r\n"
    res = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    engines = {
        "default": ScanEngine.from_options(),
        "MD5+SHA-256 IOCs": ScanEngine.from_options(
            ScanOptions(hashes=frozenset({"0" * 64, "1" * 32}))
        ),
    }
    for label, engine in engines.items():
        server = IcapServer(engine, IcapConfig(port=0))
        with ServiceThread(server):

            def one(count: int, port: int = server.port) -> None:
                for _ in range(count):
                    r = icap_request(
                        port,
                        "RESPMOD",
                        "respmod",
                        req_hdr=req,
                        res_hdr=res,
                        body=body,
                        preview=1024,
                    )
                    assert r.status == 204

            one(2)
            start, start_cpu = time.perf_counter(), time.process_time()
            one(requests)
            sequential = requests / (time.perf_counter() - start)
            cpu_ms = 1000 * (time.process_time() - start_cpu) / requests
            start = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(one, [max(requests // 4, 1)] * 4))
            parallel = 4 * max(requests // 4, 1) / (time.perf_counter() - start)
        print(
            f"ICAP RESPMOD 1 MB, {label:<16}: {sequential:6.1f} req/s sequential"
            f" ({cpu_ms:.1f} ms CPU each), {parallel:6.1f} req/s, 4 clients"
        )


def bench_yara(megabytes: int, rounds: int = 9) -> None:
    """Rounds interleave the variants, so a noisy neighbour hits them alike; best-of each."""
    import hashlib

    data = payload(megabytes * MB)
    rules, _ = compile_rules(ScanOptions())
    scanner = yara_x.Scanner(rules)
    engine = ScanEngine.from_options(ScanOptions(scanners=("yara",)))
    unhashed = ScanEngine.from_options(ScanOptions(scanners=("yara",), hash_objects=False))
    iocs = ScanEngine.from_options(
        ScanOptions(scanners=("hashes", "yara"), hashes=frozenset({"0" * 64}))
    )
    both = ScanEngine.from_options(
        ScanOptions(scanners=("hashes", "yara"), hashes=frozenset({"0" * 64, "1" * 32}))
    )
    hashed = engine.scan_bytes(data, name="blob.bin")
    assert hashed.sha256 == hashlib.sha256(data).hexdigest()

    def sequential() -> None:  # what the core cost when the digest did not overlap
        unhashed.scan_bytes(data, name="blob.bin")
        hashlib.sha256(data).hexdigest()

    variants = {
        "direct": lambda: scanner.scan(data),
        "core, SHA-256 on": lambda: engine.scan_bytes(data, name="blob.bin"),
        "core, SHA-256 off": lambda: unhashed.scan_bytes(data, name="blob.bin"),
        "core + serial SHA": sequential,
        "core + SHA-256 IOCs": lambda: iocs.scan_bytes(data, name="blob.bin"),
        "core + MD5+SHA IOCs": lambda: both.scan_bytes(data, name="blob.bin"),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)  # all threads: hashing too
    load = os.getloadavg()[0]
    mbps_direct = megabytes / min(times["direct"])
    print(
        f"YARA-X direct {mbps_direct:7.1f} MB/s, CPU {1000 * statistics.median(cpu['direct']):.0f}"
        f" ms ({megabytes} MB, bundled rules; load average {load:.1f} on {os.cpu_count()} CPUs)"
    )
    for name in list(variants)[1:]:
        mbps = megabytes / min(times[name])
        paired = statistics.median(d / c for d, c in zip(times["direct"], times[name], strict=True))
        print(
            f"  through the {name:<19} {mbps:7.1f} MB/s = {100 * mbps / mbps_direct:.0f}%"
            f" (median of paired rounds {100 * paired:.0f}%),"
            f" CPU {1000 * statistics.median(cpu[name]):.0f} ms median"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--mb", type=int, default=32)
    args = parser.parse_args()
    bench_yara(args.mb)
    bench_icap(args.requests)
    bench_smtp(args.messages)


if __name__ == "__main__":
    main()
