"""Parser modules. Activation is this explicit import list (one line per parser)."""

from mamori.ingest.base import parsers
from mamori.ingest.parsers import auditd as auditd
from mamori.ingest.parsers import evtx as evtx
from mamori.ingest.parsers import json_lines as json_lines
from mamori.ingest.parsers import netfilter as netfilter
from mamori.ingest.parsers import postfix as postfix
from mamori.ingest.parsers import squid as squid
from mamori.ingest.parsers import syslog as syslog
from mamori.ingest.parsers import utm_kv as utm_kv
from mamori.ingest.parsers import web_access as web_access
from mamori.ingest.parsers import windows_json as windows_json

__all__ = ["parsers"]
