"""Content scanning: scanners (YARA-X, ClamAV, hashes, EICAR, macros), the archive walker,
the attachment policy, verdicts, the quarantine store, and the mail (SMTP) and web (ICAP)
gateways built on them."""

from mamori.scan.base import ScanItem, Scanner, ScannerUnavailable, ScanOptions, scanners
from mamori.scan.engine import ScanEngine
from mamori.scan.events import verdict_event
from mamori.scan.policy import Policy, PolicySet, load_policy
from mamori.scan.verdict import Category, Outcome, Reason, Verdict

__all__ = [
    "Category",
    "Outcome",
    "Policy",
    "PolicySet",
    "Reason",
    "ScanEngine",
    "ScanItem",
    "ScanOptions",
    "Scanner",
    "ScannerUnavailable",
    "Verdict",
    "load_policy",
    "scanners",
    "verdict_event",
]
