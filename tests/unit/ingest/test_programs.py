import pytest

from mamori.ingest.programs import enrich, sshd_fields, sudo_fields


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
            "rhost=203.0.113.4  user=root",
            {
                "event_type": "ssh_login",
                "outcome": "failure",
                "src_ip": "203.0.113.4",
                "user": "root",
            },
        ),
        (
            "error: maximum authentication attempts exceeded for invalid user x from 192.0.2.1 "
            "port 22 ssh2 [preauth]",
            {"event_type": "ssh_max_auth", "invalid_user": True, "user": "x"},
        ),
        (
            "Disconnected from user alice 10.0.0.5 port 51234",
            {"event_type": "ssh_disconnect", "user": "alice", "src_port": 51234},
        ),
        (
            "pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)",
            {"event_type": "ssh_session", "session": "opened", "user": "alice"},
        ),
        (
            "Accepted keyboard-interactive/pam for bob from 2001:db8::1 port 2200 ssh2",
            {
                "outcome": "success",
                "src_ip": "2001:db8::1",
                "auth_method": "keyboard-interactive/pam",
            },
        ),
    ],
)
def test_sshd_messages(message, expected):
    fields = sshd_fields(message)
    assert {k: fields.get(k) for k in expected} == expected


def test_unknown_messages_give_no_fields():
    assert sshd_fields("Server listening on 0.0.0.0 port 22.") == {}
    assert sudo_fields("some text without the separator") == {}
    assert enrich("bash", "anything") == (None, {})
    assert enrich("kernel", "usb 1-1: new device") == (None, {})


def test_sudo_session_and_apparmor_audit():
    assert (
        sudo_fields("pam_unix(sudo:session): session opened for user root(uid=0) by a(uid=1)")[
            "target_user"
        ]
        == "root"
    )
    data_type, fields = enrich(
        "kernel", 'audit: type=1400 audit(1764028800.1:5): apparmor="DENIED" operation="open"'
    )
    assert data_type == "linux:auditd"
    assert fields["apparmor"] == "DENIED"
    assert fields["type"] == "1400"


@pytest.mark.parametrize(
    "message",
    [
        "Did not receive identification string from 198.51.100.4 port 40000",
        "Unable to negotiate with 198.51.100.4 port 40000: no matching key exchange method found.",
        "error: kex_exchange_identification: Connection closed by remote host",
        "banner exchange: Connection from 198.51.100.4 port 40000: invalid format",
        "Bad protocol version identification 'GET / HTTP/1.1' from 198.51.100.4 port 40000",
    ],
)
def test_sshd_scanner_noise(message):
    fields = sshd_fields(message)
    if "198.51.100.4" in message:
        assert fields["event_type"] == "ssh_scan" and fields["src_ip"] == "198.51.100.4"
    else:
        assert fields == {}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("(to root) alice on pts/0", ("success", "alice", "root")),
        ("Successful su for root by alice", ("success", "alice", "root")),
        ("FAILED su for root by bob", ("failure", "bob", "root")),
        ("'su root' failed for lonvick on /dev/pts/8", ("failure", "lonvick", "root")),
        (
            "pam_unix(su:auth): authentication failure; logname=bob uid=1000 euid=0 tty=pts/1 "
            "ruser=bob rhost=  user=root",
            ("failure", "bob", "root"),
        ),
    ],
)
def test_su(message, expected):
    data_type, fields = enrich("su", message)
    assert data_type == "auth:su"
    assert (fields["outcome"], fields["user"], fields["target_user"]) == expected


def test_sudo_pam_failure():
    fields = sudo_fields(
        "pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 "
        "tty=/dev/pts/0 ruser=alice rhost=  user=alice"
    )
    assert fields == {"event_type": "sudo_auth", "outcome": "failure", "user": "alice"}
