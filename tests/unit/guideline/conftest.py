"""Fixtures for the guideline tests: a tiny catalogue text and the built-in framework."""

from __future__ import annotations

import pytest

from mamori.guideline.loader import load_builtin, parse_catalogue
from mamori.guideline.models import Framework

TINY = """\
framework:
  id: tiny
  version: "1"
  name_ja: 小さな枠組み
  name_en: Tiny
  item_count: 6
  label_count: 2
  labels_contiguous: true
  levels:
    - {level: 1, count: 3}
    - {level: 2, count: 2}
    - {level: 3, count: 1}
labels:
  - {no: 1, name_ja: 方針, name_en: Policy}
  - {no: 2, name_ja: 検知, name_en: Detection}
items:
  - no: 1
    label: 1
    level: 1
    summary_ja: 方針を定める
    provenance: {status: derived, source: test}
  - no: 2
    label: 1
    level: 2
    summary_ja: 方針を見直す
    provenance: {status: derived, source: test}
  - no: 3
    label: 1
    level: 1
    summary_ja: 方針を周知する
    provenance: {status: derived, source: test}
  - no: 4
    label: 2
    level: 1
    summary_ja: ログを取る
    provenance: {status: derived, source: test}
  - no: 5
    label: 2
    level: 2
    summary_ja: ログを分析する
    provenance: {status: derived, source: test}
  - no: 6
    label: 2
    provenance: {status: unknown}
"""


@pytest.fixture(scope="session")
def jama() -> Framework:
    return load_builtin("jama-japia")


@pytest.fixture()
def tiny() -> Framework:
    return parse_catalogue(TINY, path="tiny.yaml")


@pytest.fixture()
def tiny_text() -> str:
    return TINY
