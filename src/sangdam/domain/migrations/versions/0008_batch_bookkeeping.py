"""batch bookkeeping: batch_runs and batch_items (each item of a run done exactly once)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 04:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('batch_runs',
    sa.Column('run_id', sa.String(length=120), nullable=False),
    sa.Column('job', sa.String(length=20), nullable=False),
    sa.Column('engine', sa.String(length=12), nullable=False),
    sa.Column('since', sa.Date(), nullable=True),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('run_id')
    )
    op.create_index('ix_batch_runs_started_at', 'batch_runs', ['started_at'])
    op.create_table('batch_items',
    sa.Column('run_id', sa.String(length=120), nullable=False),
    sa.Column('item_id', sa.String(length=200), nullable=False),
    sa.Column('worker', sa.String(length=80), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('run_id', 'item_id')
    )


def downgrade() -> None:
    op.drop_table('batch_items')
    op.drop_index('ix_batch_runs_started_at', 'batch_runs')
    op.drop_table('batch_runs')
