"""Fixtures of the response unit tests."""

from __future__ import annotations

import pytest

from mamori.respond.models import Actor
from mamori.respond.testing import RespondEnv


@pytest.fixture
def env() -> RespondEnv:
    return RespondEnv()


@pytest.fixture
def analyst() -> Actor:
    return Actor(name="sato")


@pytest.fixture
def analyst2() -> Actor:
    return Actor(name="suzuki")
