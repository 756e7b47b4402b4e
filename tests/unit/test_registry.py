import pytest

from mamori.errors import DuplicateError, NotFoundError
from mamori.registry import Registry


def test_register_get_and_names():
    reg: Registry[type] = Registry("parser")

    @reg.register
    class Foo:
        NAME = "foo"

    assert reg.get("foo") is Foo
    assert reg.names() == ["foo"]
    assert "foo" in reg
    assert len(reg) == 1


def test_duplicate_name_raises():
    reg: Registry[type] = Registry("parser")

    @reg.register
    class A:
        NAME = "same"

    class B:
        NAME = "same"

    with pytest.raises(DuplicateError):
        reg.register(B)


def test_unknown_name_lists_known():
    reg: Registry[object] = Registry("scanner")
    reg.register_as("yara")(object())
    with pytest.raises(NotFoundError, match="known: yara"):
        reg.get("clamav")


def test_missing_name_is_refused():
    reg: Registry[type] = Registry("parser")
    with pytest.raises(ValueError, match="no NAME"):
        reg.register(type("NoName", (), {}))
