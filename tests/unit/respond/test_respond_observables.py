from mamori.respond.models import Observable, ObservableKind
from mamori.respond.observables import extract, is_domain, user_of
from mamori.respond.testing import make_alert


def test_extract_every_kind():
    alert = make_alert(
        host="PC-01",
        event={
            "User": "ACME\\taro",
            "Computer": "PC-01.acme.local",
            "DestinationIp": "::ffff:203.0.113.5",
            "SourceIp": "0.0.0.0",  # noqa: S104 - data, not a bind
            "QueryName": "Evil.Example.COM.",
            "url": "https://dl.bad.example/payload.exe",
            "Hashes": "MD5=D41D8CD98F00B204E9800998ECF8427E,SHA256=" + "B" * 64 + ",IMPHASH=zz",
            "CommandLine": "curl http://198.51.100.4/x",
            "tags": ["10.1.2.3", 5],
            "flag": True,
        },
        matched={"TargetUserName": "-"},
    )
    found = set(extract(alert))
    expected = {
        Observable(ObservableKind.HOST, "pc-01"),
        Observable(ObservableKind.HOST, "pc-01.acme.local"),
        Observable(ObservableKind.USER, "ACME\\taro"),
        Observable(ObservableKind.IP, "203.0.113.5"),
        Observable(ObservableKind.IP, "10.1.2.3"),
        Observable(ObservableKind.DOMAIN, "evil.example.com"),
        Observable(ObservableKind.DOMAIN, "dl.bad.example"),
        Observable(ObservableKind.HASH, "d41d8cd98f00b204e9800998ecf8427e"),
        Observable(ObservableKind.HASH, "b" * 64),
    }
    assert expected <= found
    assert Observable(ObservableKind.IP, "0.0.0.0") not in found  # noqa: S104
    assert not any(o.value == "zz" for o in found)


def test_user_and_domain_helpers():
    assert user_of({"User": " - ", "SubjectUserName": "svc"}) == "svc"
    assert user_of({"User": "n/a"}) is None
    assert is_domain("a.example") and not is_domain("localhost") and not is_domain("1.2.3.4")


def test_ip_url_and_correlation_events():
    alert = make_alert(event={"TargetUrl": "http://192.0.2.7:8080/a"}, matched={})
    alert = type(alert)(
        **{
            **{f: getattr(alert, f) for f in alert.__dataclass_fields__},
            "events": ({"DestinationIp": "192.0.2.99"},),
        }
    )
    kinds = {(o.kind, o.value) for o in extract(alert)}
    assert (ObservableKind.IP, "192.0.2.7") in kinds
    assert (ObservableKind.IP, "192.0.2.99") in kinds
