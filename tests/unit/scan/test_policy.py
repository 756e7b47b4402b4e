from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.errors import ConfigError
from mamori.scan.policy import PolicySet, load_policy
from mamori.scan.verdict import Category, Outcome, Reason


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def _codes(policy, name):
    return [r.code for r in policy.check_name(name)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", []),
        ("setup.exe", ["blocked_extension"]),
        ("invoice.pdf.exe", ["blocked_extension", "double_extension"]),
        ("INVOICE.PDF.SCR", ["blocked_extension", "double_extension"]),
        ("photo.jpg          .js", ["blocked_extension", "double_extension"]),
        ("archive.tar.gz", []),
        ("shortcut.lnk", ["blocked_extension"]),
        ("disk.iso", ["blocked_extension"]),
        ("見積書.xlsm", ["macro_extension"]),
        ("trailing.exe.", ["blocked_extension"]),
        ("ｓｅｔｕｐ．ｅｘｅ", ["blocked_extension"]),
    ],
)
def test_name_checks(policy, name, expected):
    assert _codes(policy, name) == expected


def test_rtlo_filename_is_blocked(policy):
    name = "請求書\u202egpj.exe"  # displays as 請求書exe.jpg
    reasons = policy.check_name(name)
    assert [r.code for r in reasons] == ["unicode_trick", "blocked_extension"]
    assert reasons[0].detail == "RLO"
    assert all(policy.outcome_for(r) is Outcome.BLOCKED for r in reasons)


def test_rtlo_hiding_a_harmless_extension_still_flagged(policy):
    assert _codes(policy, "photo\u202efdp.txt") == ["unicode_trick"]


def test_zero_width_and_dot_lookalike(policy):
    assert _codes(policy, "a\u200b.pdf") == ["unicode_trick"]
    assert _codes(policy, "invoice\u2024exe") == ["unicode_trick", "blocked_extension"]


def test_type_mismatch_and_disguised_executable(policy):
    (pe,) = policy.check_type("pe", name="invoice.pdf", declared_mime="application/pdf")
    assert pe.code == "disguised_executable"
    assert policy.outcome_for(pe) is Outcome.BLOCKED
    (zipped,) = policy.check_type("zip", name="photo.jpg", declared_mime="")
    assert zipped.code == "type_mismatch"
    assert policy.outcome_for(zipped) is Outcome.QUARANTINED
    assert policy.check_type("zip", name="report.docx", declared_mime="application/zip") == []
    assert policy.check_type("pdf", name="x.pdf", declared_mime="application/octet-stream") == []
    assert policy.check_type("", name="x.pdf", declared_mime="image/png") == []


def test_actions_map_categories(policy):
    assert policy.outcome_for(Reason(Category.MALWARE, "signature")) is Outcome.BLOCKED
    assert policy.outcome_for(Reason(Category.ENCRYPTED, "encrypted")) is Outcome.QUARANTINED
    assert policy.outcome_for(Reason(Category.ERROR, "scanner_error")) is Outcome.QUARANTINED


def test_tenant_file_merges_over_default(tmp_path):
    (tmp_path / "acme.yaml").write_text(
        "actions: {macro: block, error: error}\n"
        "extra_blocked_extensions: [pdf]\n"
        "allowed_extensions: [iso]\n"
        "limits: {max_depth: 2}\n"
        "ppap: {mode: reject}\n",
        encoding="utf-8",
    )
    policies = PolicySet(tmp_path)
    acme = policies.for_tenant("acme")
    assert acme.name == "acme"
    assert acme.outcome_for(Reason(Category.MACRO, "vba_macro")) is Outcome.BLOCKED
    assert acme.outcome_for(Reason(Category.ERROR, "x")) is Outcome.ERROR
    assert acme.outcome_for(Reason(Category.MALWARE, "x")) is Outcome.BLOCKED  # inherited
    assert acme.limits.max_depth == 2
    assert acme.limits.max_members == 10_000
    assert acme.ppap.mode == "reject"
    assert [r.code for r in acme.check_name("a.pdf")] == ["blocked_extension"]
    assert acme.check_name("a.iso") == []
    assert policies.for_tenant("other").name == "default"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("actions: {malware: explode}\n", "actions.malware"),
        ("limits: {max_depth: -1}\n", "limits.max_depth"),
        ("unknown_key: 1\n", "unknown_key"),
        ("actions: [\n", "not valid YAML"),
        ("- a list\n", "must be a mapping"),
    ],
)
def test_invalid_policy_files(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    assert needle in str(info.value)
    assert str(path) in str(info.value)


def test_tenant_name_cannot_escape_directory(tmp_path):
    with pytest.raises(ConfigError):
        PolicySet(tmp_path).for_tenant("../etc")


_DEFAULT = load_policy()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_name_is_checked_without_error(name):
    for reason in _DEFAULT.check_name(name, "p"):
        assert reason.code in {
            "unicode_trick",
            "blocked_extension",
            "macro_extension",
            "double_extension",
        }


def test_executable_under_any_other_name_is_disguised():
    policy = _DEFAULT
    assert [r.code for r in policy.check_type("pe", name="readme.txt")] == ["disguised_executable"]
    assert [r.code for r in policy.check_type("pe", declared_mime="text/plain")] == [
        "disguised_executable"
    ]
    assert policy.check_type("pe", name="setup.exe", declared_mime="application/octet-stream") == []
    assert policy.check_type("elf", name="libz.so.1") == []
    assert policy.check_type("pe", name="noextension") == []
