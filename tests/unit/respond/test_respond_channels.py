"""Customer notification channels: checks, secrets kept out of sight, notifiers, memory repo."""

import pytest

from mamori.errors import DuplicateError, NotFoundError, ValidationError
from mamori.model import Severity
from mamori.respond.channels import (
    MemoryChannelRepo,
    SmtpRelay,
    UnavailableNotifier,
    apply_changes,
    new_channel,
    notifier_for,
)
from mamori.respond.errors import NotifyError
from mamori.respond.notify.base import Notification
from mamori.respond.notify.chat import ChatWebhookNotifier
from mamori.respond.notify.email import EmailNotifier
from mamori.respond.notify.webhook import WebhookNotifier
from mamori.respond.testing import T0


def _new(**data):
    return new_channel("acme", data, actor="sato", now=T0)


def test_defaults_and_normalisation():
    c = _new(name=" 情シス ", kind="email", recipients="a@x.example; b@x.example, A@x.example")
    assert c.name == "情シス" and c.lang == "ja" and c.min_severity is Severity.MEDIUM
    assert c.recipients == ("a@x.example", "b@x.example") and c.enabled
    assert c.created_by == "sato" and c.created_at == T0 and c.id.startswith("nch-")


def test_generated_webhook_secret_is_hidden_from_repr_and_public():
    c = _new(name="w", kind="webhook", url="https://h.example/x?token=1")
    assert len(c.secret) >= 32
    assert c.secret not in repr(c) and c.secret not in str(c.public())
    assert c.public()["has_secret"] is True and c.target == "https://h.example/x"


def test_chat_url_is_the_secret():
    c = _new(name="s", kind="chat", url="https://hooks.slack.example/services/T/B/tok")
    assert c.url == "hooks.slack.example" and c.secret.endswith("/tok")
    assert "tok" not in str(c.public())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "email", "recipients": "a@x.example"}, "name is required"),
        ({"name": "n", "kind": "sms"}, "kind must be one of"),
        ({"name": "n", "kind": "email"}, "at least one recipient"),
        ({"name": "n", "kind": "email", "recipients": ["bad"]}, "not an e-mail address"),
        ({"name": "n", "kind": "email", "recipients": 5}, "list of e-mail"),
        ({"name": "n", "kind": "webhook", "url": "javascript:alert(1)"}, "http"),
        ({"name": "n", "kind": "webhook", "url": "https://x.example", "secret": "s"}, "16"),
        ({"name": "n", "kind": "chat", "style": "irc", "url": "https://x.example"}, "style"),
        ({"name": "n", "kind": "chat"}, "incoming-webhook URL"),
        ({"name": "n", "kind": "email", "recipients": "a@x.example", "lang": "de"}, "lang"),
        ({"name": "n", "kind": "email", "recipients": "a@x.example", "min_severity": "x"}, "sev"),
        ({"name": "n", "kind": "email", "recipients": "a@x.example", "enabled": "maybe"}, "true"),
        ({"name": "x" * 101, "kind": "email", "recipients": "a@x.example"}, "too long"),
    ],
)
def test_bad_input_is_refused_with_a_reason(data, message):
    with pytest.raises(ValidationError, match=message):
        _new(**data)


def test_changes_keep_secret_unless_given_and_kind_is_fixed():
    c = _new(name="w", kind="webhook", url="https://h.example/x")
    kept = apply_changes(c, {"secret": "", "min_severity": "critical"})
    assert kept.secret == c.secret and kept.min_severity is Severity.CRITICAL
    assert apply_changes(c, {"secret": "s" * 16}).secret == "s" * 16
    with pytest.raises(ValidationError, match="cannot change"):
        apply_changes(c, {"kind": "email"})
    assert c.min_severity is Severity.MEDIUM  # the original is untouched


def test_wants_by_severity_and_switch():
    c = _new(name="m", kind="email", recipients="a@x.example", min_severity="high")
    assert c.wants(Severity.CRITICAL) and c.wants(Severity.HIGH) and not c.wants(Severity.MEDIUM)
    c.enabled = False
    assert not c.wants(Severity.CRITICAL)


def test_notifier_for_each_kind():
    relay = SmtpRelay(host="127.0.0.1", port=2525, sender="m@x.example")
    mail = notifier_for(_new(name="m", kind="email", recipients="a@x.example"), smtp=relay)
    assert isinstance(mail, EmailNotifier) and mail.to == ("a@x.example",) and mail.port == 2525
    hook = notifier_for(_new(name="w", kind="webhook", url="https://h.example/"), smtp=None)
    assert isinstance(hook, WebhookNotifier)
    teams = _new(name="t", kind="chat", style="teams", url="https://t.example/x")
    chat = notifier_for(teams, smtp=None)
    assert isinstance(chat, ChatWebhookNotifier) and chat.style == "teams"


def test_unusable_channels_fail_with_the_reason():
    n = Notification(tenant="acme", kind="incident_opened", subject="s", text="t")
    mail = notifier_for(_new(name="m", kind="email", recipients="a@x.example"), smtp=None)
    assert isinstance(mail, UnavailableNotifier)
    with pytest.raises(NotifyError, match="no SMTP relay"):
        mail.send(n)
    lost = _new(name="w", kind="webhook", url="https://h.example/")
    lost.secret = ""
    with pytest.raises(NotifyError, match="set it again"):
        notifier_for(lost, smtp=None).send(n)


def test_memory_repo():
    repo = MemoryChannelRepo()
    a = _new(name="m", kind="email", recipients="a@x.example")
    repo.add(a)
    with pytest.raises(DuplicateError):
        repo.add(_new(name="m", kind="email", recipients="b@x.example"))
    got = repo.get(a.id)
    got.name = "n"
    assert repo.get(a.id).name == "m"  # copies
    repo.save(got)
    assert [c.name for c in repo.list(tenant="acme")] == ["n"] and repo.list(tenant="b") == []
    repo.delete(a.id)
    with pytest.raises(NotFoundError):
        repo.get(a.id)
    with pytest.raises(NotFoundError):
        repo.save(got)
