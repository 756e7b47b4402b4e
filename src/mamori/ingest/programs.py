"""Field extraction for the common Linux programs found inside syslog messages.

Each ``*_fields`` function reads one message (the part after ``program[pid]:``) and
returns flat fields with the names Sigma rules and the rest of mamori use (``user``,
``src_ip``, ``src_port``, ``dst_ip``...). None of them raises on unexpected text: they
return what they recognise, and :func:`enrich` picks the function by program name.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from mamori.ingest.kv import parse_kv

_IP = r"(?P<ip>[0-9A-Fa-f:.]+(?:%\w+)?)"
_SSHD_PATTERNS: tuple[tuple[re.Pattern[str], dict[str, Any]], ...] = (
    (
        re.compile(
            r"^Accepted (?P<method>\S+) for (?P<user>.+?) from " + _IP + r" port (?P<port>\d+)"
            r"(?: (?P<proto>ssh\d?))?(?:: (?P<keytype>\S+) (?P<fp>\S+))?"
        ),
        {"event_type": "ssh_login", "outcome": "success"},
    ),
    (
        re.compile(
            r"^Failed (?P<method>\S+) for (?P<invalid>invalid user )?(?P<user>.*?) from "
            + _IP
            + r" port (?P<port>\d+)"
        ),
        {"event_type": "ssh_login", "outcome": "failure"},
    ),
    (
        re.compile(r"^Invalid user (?P<user>.*?) from " + _IP + r"(?: port (?P<port>\d+))?"),
        {"event_type": "ssh_invalid_user", "outcome": "failure", "invalid_user": True},
    ),
    (
        re.compile(
            r"^(?:error: )?maximum authentication attempts exceeded for (?P<invalid>invalid user )?"
            r"(?P<user>.*?) from " + _IP + r" port (?P<port>\d+)"
        ),
        {"event_type": "ssh_max_auth", "outcome": "failure"},
    ),
    (
        re.compile(
            r"^(?:Connection closed|Disconnected) by (?:(?P<invalid>invalid user )|"
            r"authenticating user )?(?P<user>\S+) " + _IP + r" port (?P<port>\d+)"
        ),
        {"event_type": "ssh_disconnect"},
    ),
    (
        re.compile(
            r"^Disconnected from (?:invalid |authenticating )?user (?P<user>\S+) "
            + _IP
            + r" port (?P<port>\d+)"
        ),
        {"event_type": "ssh_disconnect"},
    ),
    (
        re.compile(r"^(?:Connection closed|Disconnected) by " + _IP + r" port (?P<port>\d+)"),
        {"event_type": "ssh_disconnect"},
    ),
    (
        re.compile(r"^Received disconnect from " + _IP + r" port (?P<port>\d+)"),
        {"event_type": "ssh_disconnect"},
    ),
    (
        re.compile(r"^Connection from " + _IP + r" port (?P<port>\d+)"),
        {"event_type": "ssh_connect"},
    ),
    (
        re.compile(
            r"^Did not receive identification string from " + _IP + r"(?: port (?P<port>\d+))?"
        ),
        {"event_type": "ssh_scan"},
    ),
    (
        re.compile(
            r"^(?:error: )?(?:kex_exchange_identification|banner exchange): .*?"
            r"(?:from |Connection from )?" + _IP + r" port (?P<port>\d+)"
        ),
        {"event_type": "ssh_scan"},
    ),
    (
        re.compile(r"^Unable to negotiate with " + _IP + r" port (?P<port>\d+)"),
        {"event_type": "ssh_scan"},
    ),
    (
        re.compile(
            r"^Bad protocol version identification .* from " + _IP + r"(?: port (?P<port>\d+))?"
        ),
        {"event_type": "ssh_scan"},
    ),
    (
        re.compile(
            r"^pam_unix\(sshd:session\): session (?P<state>opened|closed) for user "
            r"(?P<user>[^\s(]+)"
        ),
        {"event_type": "ssh_session"},
    ),
)
_RHOST = re.compile(r"\brhost=(\S*)")
_PAM_USER = re.compile(r"\buser=(\S+)")


def sshd_fields(message: str) -> dict[str, Any]:
    """Logins, failures, invalid users and disconnects of OpenSSH's sshd."""
    out: dict[str, Any] = {}
    for pattern, extra in _SSHD_PATTERNS:
        m = pattern.match(message)
        if not m:
            continue
        out.update(extra)
        groups = {k: v for k, v in m.groupdict().items() if v}
        if "user" in groups:
            out["user"] = groups["user"]
        if "ip" in groups:
            out["src_ip"] = groups["ip"]
        if "port" in groups:
            out["src_port"] = int(groups["port"])
        if "method" in groups:
            out["auth_method"] = groups["method"]
        if groups.get("invalid"):
            out["invalid_user"] = True
        if "keytype" in groups:
            out["key_type"] = groups["keytype"]
            out["key_fingerprint"] = groups.get("fp", "")
        if "state" in groups:
            out["session"] = groups["state"]
        return out
    if "authentication failure" in message:
        out.update(event_type="ssh_login", outcome="failure", auth_method="pam")
        rhost = _RHOST.search(message)
        if rhost and rhost.group(1):
            out["src_ip"] = rhost.group(1)
        user = _PAM_USER.search(message)
        if user:
            out["user"] = user.group(1)
    return out


def sudo_fields(message: str) -> dict[str, Any]:
    """``alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id``."""
    if "pam_unix(sudo:auth): authentication failure" in message:
        found = re.search(r"\bruser=(\S+)", message) or _PAM_USER.search(message)
        failure: dict[str, Any] = {"event_type": "sudo_auth", "outcome": "failure"}
        if found:
            failure["user"] = found.group(1)
        return failure
    user, sep, rest = message.partition(" : ")
    if not sep or " " in user.strip():
        session = re.match(
            r"^pam_unix\(sudo:session\): session (opened|closed) for user "
            r"([^\s(]+)",
            message,
        )
        if session:
            return {
                "event_type": "sudo_session",
                "session": session.group(1),
                "target_user": session.group(2),
            }
        return {}
    out: dict[str, Any] = {"event_type": "sudo", "user": user.strip()}
    parts = [p.strip() for p in rest.split(" ; ")]
    for part in parts:
        key, eq, value = part.partition("=")
        if eq and key.isupper():
            name = {
                "TTY": "tty",
                "PWD": "pwd",
                "USER": "target_user",
                "GROUP": "target_group",
                "COMMAND": "command",
                "ENV": "env",
            }.get(key, key.lower())
            out[name] = value
        elif part:
            out["reason"] = part
    if "command" in out:
        out["CommandLine"] = out["command"]
        out["Image"] = out["command"].split(" ", 1)[0]
    out["outcome"] = "failure" if "reason" in out else "success"
    return out


_AUDIT_HEAD = re.compile(
    r"^(?:type=(?P<type>\S+)\s+)?(?:msg=)?audit\((?P<ts>\d+(?:\.\d+)?):(?P<serial>\d+)\):\s*"
)
_HEX = re.compile(r"^(?:[0-9A-F]{2})+$")
_HEX_ARGS = re.compile(r"^a\d+$")
_HEX_ALWAYS = frozenset({"proctitle", "cmd", "data"})
# x86_64 (arch=c000003e) syscall numbers -> names, for logs without log_format=ENRICHED
X86_64_SYSCALLS = {
    "0": "read",
    "1": "write",
    "2": "open",
    "3": "close",
    "9": "mmap",
    "10": "mprotect",
    "41": "socket",
    "42": "connect",
    "43": "accept",
    "49": "bind",
    "50": "listen",
    "56": "clone",
    "57": "fork",
    "58": "vfork",
    "59": "execve",
    "62": "kill",
    "82": "rename",
    "83": "mkdir",
    "84": "rmdir",
    "87": "unlink",
    "88": "symlink",
    "90": "chmod",
    "92": "chown",
    "101": "ptrace",
    "105": "setuid",
    "106": "setgid",
    "157": "prctl",
    "165": "mount",
    "175": "init_module",
    "176": "delete_module",
    "257": "openat",
    "263": "unlinkat",
    "268": "fchmodat",
    "288": "accept4",
    "313": "finit_module",
    "319": "memfd_create",
    "322": "execveat",
}


def audit_fields(message: str) -> tuple[dict[str, Any], datetime | None]:
    """An auditd record: ``type=SYSCALL msg=audit(1700000000.123:42): key=value ...``.

    Field names stay auditd's own (``type``, ``exe``, ``comm``, ``a0``, ``key``...) because
    Sigma's auditd rules use them. Hex-encoded arguments are decoded; the nested
    ``msg='...'`` of user-space records is flattened. Returns no fields when the text is
    not an audit record.
    """
    m = _AUDIT_HEAD.match(message)
    if not m:
        return {}, None
    body = message[m.end() :]
    enriched = ""
    if "\x1d" in body:  # log_format=ENRICHED: interpreted values after a GS separator
        body, _, enriched = body.partition("\x1d")
    pairs = parse_kv(body)
    out: dict[str, Any] = {}
    record_type = m.group("type")
    if record_type:
        out["type"] = record_type
    out["audit_serial"] = int(m.group("serial"))
    execve = record_type == "EXECVE"
    for key, value in pairs.items():
        if key == "msg" and "=" in value:
            for inner_key, inner_value in parse_kv(value).items():
                out.setdefault(inner_key, inner_value)
            continue
        hex_encoded = key in _HEX_ALWAYS or (execve and _HEX_ARGS.match(key) is not None)
        if hex_encoded and _HEX.match(value):
            value = bytes.fromhex(value).replace(b"\x00", b" ").decode("utf-8", "replace")
        out[key] = value
    if enriched:
        for key, value in parse_kv(enriched).items():
            out.setdefault(key, value)
    if out.get("type") == "SYSCALL" and "syscall" in out:
        number = str(out["syscall"])
        name = X86_64_SYSCALLS.get(number) if out.get("arch") == "c000003e" else None
        out.setdefault("SYSCALL", name or number)
    if "exe" in out:
        out.setdefault("Image", out["exe"])
    timestamp = datetime.fromtimestamp(float(m.group("ts")), UTC)
    return out, timestamp


_NETFILTER_MAP = {
    "SRC": "src_ip",
    "DST": "dst_ip",
    "SPT": "src_port",
    "DPT": "dst_port",
    "PROTO": "protocol",
    "IN": "in_interface",
    "OUT": "out_interface",
    "MAC": "mac",
    "LEN": "packet_length",
    "TTL": "ttl",
}
_NF_START = re.compile(r"(?:^|\s)IN=\S*\s+OUT=")
_KERNEL_TIME = re.compile(r"^\[\s*\d+\.\d+\]\s*")


def netfilter_fields(message: str) -> dict[str, Any]:
    """A netfilter LOG target line: ``[UFW BLOCK] IN=eth0 OUT= SRC=... DST=... DPT=22``.

    Returns no fields when there is no ``IN= ... OUT=`` part.
    """
    m = _NF_START.search(message)
    if not m:
        return {}
    prefix = _KERNEL_TIME.sub("", message[: m.start()]).strip()
    pairs = parse_kv(message[m.start() :], flags=True)
    out: dict[str, Any] = {"event_type": "netfilter"}
    if prefix:
        out["log_prefix"] = prefix
        upper = prefix.upper()
        for word, action in (
            ("BLOCK", "blocked"),
            ("DROP", "blocked"),
            ("REJECT", "blocked"),
            ("DENY", "blocked"),
            ("ALLOW", "allowed"),
            ("ACCEPT", "allowed"),
            ("AUDIT", "audit"),
        ):
            if word in upper:
                out["action"] = action
                break
    flags = []
    for key, value in pairs.items():
        name = _NETFILTER_MAP.get(key)
        if name in ("src_port", "dst_port", "packet_length", "ttl") and value.isdigit():
            out[name] = int(value)
        elif name:
            out[name] = value
        elif value == "" and key.isupper():
            flags.append(key)
        else:
            out[key] = value
    if "protocol" in out:
        out["protocol"] = str(out["protocol"]).lower()
    if flags:
        out["flags"] = " ".join(flags)
    return out


_QUEUE_ID = re.compile(r"^(?P<qid>[0-9A-F]{5,20}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,20}): ")
_CLIENT = re.compile(r"^(?P<host>[^\[\s]*)\[(?P<ip>[^\]]*)\](?::(?P<port>\d+))?")
_NOQUEUE = re.compile(
    r"^NOQUEUE: (?P<action>reject|discard|hold|filter|warn): (?P<stage>\S+) from "
    r"(?P<client>\S+?\[[^\]]*\](?::\d+)?): (?P<reply>.*?); (?P<rest>from=.*)$"
)
_STATUS_DETAIL = re.compile(r"\bstatus=(\S+)(?: \((.*)\))?$")


def _postfix_client(value: str, out: dict[str, Any], prefix: str) -> None:
    m = _CLIENT.match(value)
    if not m:
        out[prefix] = value
        return
    if m.group("host"):
        out[f"{prefix}_host"] = m.group("host")
    if m.group("ip"):
        out[f"{prefix}_ip"] = m.group("ip")
    if m.group("port"):
        out[f"{prefix}_port"] = int(m.group("port"))


def postfix_fields(message: str) -> dict[str, Any]:
    """One Postfix log message (after ``postfix/<daemon>[pid]:``)."""
    out: dict[str, Any] = {}
    m = _NOQUEUE.match(message)
    if m:
        out.update(
            event_type="mail_reject",
            action=m.group("action"),
            stage=m.group("stage"),
            reply=m.group("reply"),
        )
        _postfix_client(m.group("client"), out, "client")
        for key, value in parse_kv(m.group("rest")).items():
            out[key] = value.strip("<>") if key in ("from", "to", "helo") else value
        if "client_ip" in out:
            out["src_ip"] = out["client_ip"]
        return out
    q = _QUEUE_ID.match(message)
    body = message
    if q:
        out["queue_id"] = q.group("qid")
        body = message[q.end() :]
    if body.startswith(("connect from ", "disconnect from ")):
        word, _, client = body.partition(" from ")
        out["event_type"] = f"smtp_{word}"
        _postfix_client(client.split(" ", 1)[0], out, "client")
    elif body == "removed":
        out["event_type"] = "mail_removed"
    elif "=" in body.split(" ", 1)[0] or body.startswith(("client=", "message-id=")):
        status = _STATUS_DETAIL.search(body)
        pairs_text = body[: status.start()] if status else body
        for key, value in parse_kv(pairs_text.replace(", ", " ")).items():
            if key in ("from", "to", "orig_to", "message-id"):
                value = value.strip("<>")
            if key == "client":
                _postfix_client(value, out, "client")
            elif key == "relay":
                out["relay"] = value
                _postfix_client(value, out, "relay")
            elif key in ("size", "nrcpt") and value.isdigit():
                out[key] = int(value)
            elif key == "message-id":
                out["message_id"] = value
            else:
                out[key] = value
        if status:
            out["status"] = status.group(1)
            if status.group(2):
                out["status_detail"] = status.group(2)
        out["event_type"] = "mail_delivery" if "status" in out else "mail_queue"
    if "client_ip" in out:
        out["src_ip"] = out["client_ip"]
    if "relay_ip" in out:
        out["dst_ip"] = out["relay_ip"]
    return out


_SU = (
    (
        re.compile(
            r"^(?:Successful su|\(to) (?:for )?(?P<target>[^\s)]+)\)? (?:by )?(?P<user>\S+)"
        ),
        "success",
    ),
    (
        re.compile(r"^FAILED (?:su|SU) (?:for |\(to )(?P<target>[^\s)]+)\)? (?:by )?(?P<user>\S+)"),
        "failure",
    ),
    (re.compile(r"^'su (?P<target>\S+)' failed for (?P<user>\S+)"), "failure"),
    (
        re.compile(
            r"^pam_unix\(su(?:-l)?:auth\): authentication failure;.*?\bruser=(?P<user>\S+)"
            r".*?\buser=(?P<target>\S+)"
        ),
        "failure",
    ),
)


def su_fields(message: str) -> dict[str, Any]:
    """``su`` switches of user: ``(to root) alice on pts/0``, ``FAILED su for root by bob``."""
    for pattern, outcome in _SU:
        m = pattern.match(message)
        if m:
            return {
                "event_type": "su",
                "outcome": outcome,
                "user": m.group("user"),
                "target_user": m.group("target"),
            }
    return {}


def enrich(program: str | None, message: str) -> tuple[str | None, dict[str, Any]]:
    """Fields for a known program's message, with the data type they mean.

    Returns ``(None, {})`` for programs (or messages) it does not know.
    """
    prog = (program or "").lower()
    if prog == "sshd" or prog.startswith("sshd-"):
        fields = sshd_fields(message)
        return ("auth:sshd", fields) if fields else (None, {})
    if prog == "sudo":
        fields = sudo_fields(message)
        return ("auth:sudo", fields) if fields else (None, {})
    if prog == "su":
        fields = su_fields(message)
        return ("auth:su", fields) if fields else (None, {})
    if prog.startswith("postfix"):
        fields = postfix_fields(message)
        return ("mail:postfix", fields) if fields else (None, {})
    if prog in ("audispd", "audisp-syslog", "auditd", "audit", "kernel") or "audit(" in message:
        audit, _ts = audit_fields(message.removeprefix("audit: "))
        if audit:
            return "linux:auditd", audit
    if prog in ("kernel", "") or " SRC=" in message:
        fields = netfilter_fields(message)
        if fields:
            return "firewall:netfilter", fields
    return None, {}


__all__ = [
    "audit_fields",
    "enrich",
    "netfilter_fields",
    "postfix_fields",
    "sshd_fields",
    "su_fields",
    "sudo_fields",
]
