"""consultation intelligence: per-turn intents and signals, QA scores, stored summaries, conversation marks

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 04:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('turn_intents',
    sa.Column('conversation_id', sa.String(length=40), nullable=False),
    sa.Column('turn_index', sa.Integer(), nullable=False),
    sa.Column('intent', sa.String(length=60), nullable=False),
    sa.Column('via', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id', 'turn_index', 'intent')
    )
    op.create_index('ix_turn_intents_at', 'turn_intents', ['at'])
    op.create_table('turn_signals',
    sa.Column('conversation_id', sa.String(length=40), nullable=False),
    sa.Column('turn_index', sa.Integer(), nullable=False),
    sa.Column('sentiment', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('escalate', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id', 'turn_index')
    )
    op.create_index('ix_turn_signals_at', 'turn_signals', ['at'])
    op.create_table('qa_scores',
    sa.Column('conversation_id', sa.String(length=40), nullable=False),
    sa.Column('item', sa.String(length=60), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('rubric_version', sa.String(length=40), nullable=False),
    sa.Column('scored_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id', 'item')
    )
    op.create_index('ix_qa_scores_scored_at', 'qa_scores', ['scored_at'])
    op.create_table('conversation_summaries',
    sa.Column('conversation_id', sa.String(length=40), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id')
    )
    op.create_index('ix_conversation_summaries_at', 'conversation_summaries', ['at'])
    op.create_table('conversation_marks',
    sa.Column('conversation_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id', 'kind')
    )
    op.create_index('ix_conversation_marks_at', 'conversation_marks', ['at'])
    # conversations are listed and filtered by date on the dashboard
    op.create_index('ix_conversations_created_at', 'conversations', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_conversations_created_at', 'conversations')
    for table in ('conversation_marks', 'conversation_summaries', 'qa_scores', 'turn_signals', 'turn_intents'):
        op.drop_table(table)
