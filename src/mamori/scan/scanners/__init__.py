"""The bundled scanners; importing this package registers them (explicit list, no discovery)."""

from mamori.scan.scanners import clamav, eicar, hashes, office, yara

__all__ = ["clamav", "eicar", "hashes", "office", "yara"]
