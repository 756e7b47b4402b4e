"""guideline: assessments answers evidence checks

Revision ID: guideline_0001
Revises: foundation_0001
Create Date: 2026-11-25 19:02:30.667596
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import mamori.store.types  # noqa: F401 - custom column types

revision = "guideline_0001"
down_revision = "foundation_0001"
branch_labels = ("guideline",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guideline_assessments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("framework_id", sa.String(length=64), nullable=False),
        sa.Column("framework_version", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("target_level", sa.Integer(), nullable=True),
        sa.Column("created_at", mamori.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mamori.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("catalogue", sa.JSON(), nullable=True),
        sa.Column("proposals", sa.JSON(), nullable=False),
        sa.Column("sheet_sha256", sa.String(length=64), nullable=True),
        sa.Column("sheet_filename", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            "target_level IS NULL OR target_level > 0",
            name=op.f("ck_guideline_assessments_target_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_guideline_assessments_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guideline_assessments")),
    )
    with op.batch_alter_table("guideline_assessments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_guideline_assessments_tenant_framework", ["tenant_id", "framework_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_guideline_assessments_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "guideline_evidence_blobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=200), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", mamori.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_guideline_evidence_blobs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guideline_evidence_blobs")),
        sa.UniqueConstraint("tenant_id", "sha256", name="uq_guideline_evidence_blobs_sha"),
    )
    with op.batch_alter_table("guideline_evidence_blobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guideline_evidence_blobs_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "guideline_answer_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("at", mamori.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["guideline_assessments.id"],
            name=op.f("fk_guideline_answer_history_assessment_id_guideline_assessments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_guideline_answer_history_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guideline_answer_history")),
        sa.UniqueConstraint("assessment_id", "seq", name="uq_guideline_answer_history_seq"),
    )
    with op.batch_alter_table("guideline_answer_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guideline_answer_history_assessment_id"), ["assessment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_guideline_answer_history_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "guideline_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("effort_days", sa.Float(), nullable=True),
        sa.Column("answered_by", sa.String(length=200), nullable=True),
        sa.Column("answered_at", mamori.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IS NULL OR status IN ('対策完了', '一部対策', '未対策', '対象外')",
            name=op.f("ck_guideline_answers_status_known"),
        ),
        sa.CheckConstraint(
            "effort_days IS NULL OR effort_days >= 0",
            name=op.f("ck_guideline_answers_effort_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["guideline_assessments.id"],
            name=op.f("fk_guideline_answers_assessment_id_guideline_assessments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_guideline_answers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guideline_answers")),
        sa.UniqueConstraint("assessment_id", "item_id", name="uq_guideline_answers_item"),
    )
    with op.batch_alter_table("guideline_answers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guideline_answers_assessment_id"), ["assessment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_guideline_answers_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "guideline_check_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("check", sa.String(length=100), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("at", mamori.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("summary_ja", sa.Text(), nullable=False),
        sa.Column("summary_en", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["guideline_assessments.id"],
            name=op.f("fk_guideline_check_results_assessment_id_guideline_assessments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_guideline_check_results_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guideline_check_results")),
        sa.UniqueConstraint("assessment_id", "item_id", name="uq_guideline_check_results_item"),
    )
    with op.batch_alter_table("guideline_check_results", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guideline_check_results_assessment_id"), ["assessment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_guideline_check_results_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "guideline_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("added_at", mamori.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint("size > 0", name=op.f("ck_guideline_evidence_size_positive")),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["guideline_assessments.id"],
            name=op.f("fk_guideline_evidence_assessment_id_guideline_assessments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_guideline_evidence_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guideline_evidence")),
        sa.UniqueConstraint("assessment_id", "item_id", "sha256", name="uq_guideline_evidence_ref"),
    )
    with op.batch_alter_table("guideline_evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guideline_evidence_assessment_id"), ["assessment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_guideline_evidence_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("guideline_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guideline_evidence_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_guideline_evidence_assessment_id"))

    op.drop_table("guideline_evidence")
    with op.batch_alter_table("guideline_check_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guideline_check_results_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_guideline_check_results_assessment_id"))

    op.drop_table("guideline_check_results")
    with op.batch_alter_table("guideline_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guideline_answers_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_guideline_answers_assessment_id"))

    op.drop_table("guideline_answers")
    with op.batch_alter_table("guideline_answer_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guideline_answer_history_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_guideline_answer_history_assessment_id"))

    op.drop_table("guideline_answer_history")
    with op.batch_alter_table("guideline_evidence_blobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guideline_evidence_blobs_tenant_id"))

    op.drop_table("guideline_evidence_blobs")
    with op.batch_alter_table("guideline_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guideline_assessments_tenant_id"))
        batch_op.drop_index("ix_guideline_assessments_tenant_framework")

    op.drop_table("guideline_assessments")
