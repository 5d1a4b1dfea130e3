"""backend ports: Sangdam's store no longer points into the operator's tables

Sangdam's own records (conversations, keys, web sessions) name a customer by id only: the customer lives in the
operator's system, reached through a backend (docs/backends.md), possibly another database or a REST API. Their
foreign keys to ``customers`` are dropped. New: ``backend_requests`` (the ``sql`` adapter's idempotency record,
beside the operator rows it guards) and ``customer_preferences`` (preferences Sangdam was told, in its own store).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 03:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# SQLite keeps these constraints unnamed: batch mode names them by this convention so they can be dropped.
_CONVENTION = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_TABLES = {"conversations": ("customer_id", "verified_customer_id"), "api_keys": ("customer_id",),
           "web_sessions": ("customer_id",)}


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    for table, columns in _TABLES.items():
        fks = [fk for fk in inspector.get_foreign_keys(table)
               if fk["referred_table"] == "customers" and fk["constrained_columns"][0] in columns]
        if not fks:
            continue
        with op.batch_alter_table(table, naming_convention=_CONVENTION) as batch_op:
            for fk in fks:
                name = fk.get("name") or f"fk_{table}_{fk['constrained_columns'][0]}_customers"
                batch_op.drop_constraint(name, type_="foreignkey")

    op.create_table('backend_requests',
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('operation', sa.String(length=60), nullable=False),
    sa.Column('args_hash', sa.String(length=64), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('idempotency_key')
    )
    op.create_table('customer_preferences',
    sa.Column('customer_id', sa.String(length=40), nullable=False),
    sa.Column('preferences', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('customer_id')
    )


def downgrade() -> None:
    op.drop_table('customer_preferences')
    op.drop_table('backend_requests')
    for table, columns in _TABLES.items():
        with op.batch_alter_table(table) as batch_op:
            for column in columns:
                batch_op.create_foreign_key(f"fk_{table}_{column}_customers", "customers", [column], ["id"])
