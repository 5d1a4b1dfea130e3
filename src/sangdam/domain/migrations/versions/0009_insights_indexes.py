"""insights indexes: covering indexes for the dashboard's and the insights report's SQL aggregates

Measured at 100k conversations (bench/insights/dashboard.py): the 30-day summary p50 265 → 127 ms on SQLite, the
all-time one 2.9 → 1.7 s; the messages index also serves insights.aggregate's "the customer wrote" check. Three
single-column indexes of 0007 are replaced by composites that lead with the same column.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 05:00:00
"""
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_messages_conversation_role', 'messages', ['conversation_id', 'role'])
    op.drop_index('ix_conversations_created_at', 'conversations')
    op.create_index('ix_conversations_created_mode', 'conversations', ['created_at', 'mode', 'id'])
    op.create_index('ix_qa_scores_conversation_verdict', 'qa_scores', ['conversation_id', 'item', 'passed'])
    op.drop_index('ix_turn_signals_at', 'turn_signals')
    op.create_index('ix_turn_signals_at_sentiment', 'turn_signals', ['at', 'sentiment'])
    op.drop_index('ix_turn_intents_at', 'turn_intents')
    op.create_index('ix_turn_intents_at_intent', 'turn_intents', ['at', 'intent', 'conversation_id'])


def downgrade() -> None:
    op.drop_index('ix_turn_intents_at_intent', 'turn_intents')
    op.create_index('ix_turn_intents_at', 'turn_intents', ['at'])
    op.drop_index('ix_turn_signals_at_sentiment', 'turn_signals')
    op.create_index('ix_turn_signals_at', 'turn_signals', ['at'])
    op.drop_index('ix_qa_scores_conversation_verdict', 'qa_scores')
    op.drop_index('ix_conversations_created_mode', 'conversations')
    op.create_index('ix_conversations_created_at', 'conversations', ['created_at'])
    op.drop_index('ix_messages_conversation_role', 'messages')
