"""The web gateway: an ICAP server (RFC 3507) that Squid calls to scan downloads and uploads."""

from mamori.scan.web.blockpage import render_block_page
from mamori.scan.web.icap import IcapConfig, IcapServer

__all__ = ["IcapConfig", "IcapServer", "render_block_page"]
