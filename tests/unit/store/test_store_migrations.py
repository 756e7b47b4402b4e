"""The per-area migration branches: how later areas add their tables."""

from __future__ import annotations

import shutil
from importlib.resources import files

import pytest
from sqlalchemy import Column, ForeignKey, Integer, String, Table, inspect

from mamori.errors import ValidationError
from mamori.store.db import current_revisions, generate_revision, head_revisions, make_engine
from mamori.store.tables import Base


@pytest.fixture
def scripts(tmp_path):
    target = tmp_path / "migrations"
    shutil.copytree(
        str(files("mamori.store") / "migrations"),
        target,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return str(target)


@pytest.fixture
def extra_tables():
    made: list[Table] = []

    def add(name: str) -> Table:
        table = Table(
            name,
            Base.metadata,
            Column("id", Integer, primary_key=True),
            Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
            Column("title", String(100), nullable=False),
        )
        made.append(table)
        return table

    yield add
    for table in made:
        Base.metadata.remove(table)


def test_areas_get_their_own_branches_and_upgrade_applies_all(scripts, extra_tables, tmp_path):
    extra_tables("zz_alerts")
    first = generate_revision(area="zzdetect", message="alerts", script_location=scripts)
    text = first.read_text()
    assert first.name == "zzdetect_0001_alerts.py"
    assert "down_revision = 'foundation_0001'" in text.replace('"', "'")
    assert "branch_labels = ('zzdetect',)" in text.replace('"', "'")
    assert "zz_alerts" in text

    extra_tables("zz_cases")
    other = generate_revision(area="zzrespond", message="cases", script_location=scripts)
    assert "down_revision = 'foundation_0001'" in other.read_text().replace('"', "'")
    assert "zz_alerts" not in other.read_text()

    extra_tables("zz_rules")
    second = generate_revision(area="zzdetect", message="rules", script_location=scripts)
    assert "down_revision = 'zzdetect_0001'" in second.read_text().replace('"', "'")

    with pytest.raises(ValidationError, match="nothing to generate"):
        generate_revision(area="zzdetect", message="nothing", script_location=scripts)

    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    from mamori.store.db import upgrade

    upgrade(engine, script_location=scripts)
    assert current_revisions(engine) == head_revisions(engine, script_location=scripts)
    assert {"zzdetect_0002", "zzrespond_0001"} <= current_revisions(engine)  # + real areas
    assert {"zz_alerts", "zz_cases", "zz_rules", "tenants"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()


def test_bad_area_name_is_refused(scripts):
    with pytest.raises(ValidationError, match="snake_case"):
        generate_revision(area="Bad Area", message="x", script_location=scripts)
