"""web sessions and key expiry

Public web-chat sessions (``web_sessions``), a conversation owned by a key *or* a session, key expiry. The
OpenAI-compatible threads of 0003 were keyed on a hash of the message text (issue 11 item 2: anyone repeating an
opening joined that conversation); those rows are dropped, threads are now keyed on the client's ``user``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 01:12:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_sessions',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('conversation_owners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_id', sa.String(length=24), nullable=True))
        batch_op.alter_column('api_key_id', existing_type=sa.VARCHAR(length=24), nullable=True)
        batch_op.create_index(batch_op.f('ix_conversation_owners_session_id'), ['session_id'], unique=False)
        batch_op.create_foreign_key('fk_conversation_owners_session_id', 'web_sessions', ['session_id'], ['id'])

    op.execute("DELETE FROM chat_threads")  # content hashes: never to be matched again


def downgrade() -> None:
    op.execute("DELETE FROM conversation_owners WHERE api_key_id IS NULL")
    with op.batch_alter_table('conversation_owners', schema=None) as batch_op:
        batch_op.drop_constraint('fk_conversation_owners_session_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_conversation_owners_session_id'))
        batch_op.alter_column('api_key_id', existing_type=sa.VARCHAR(length=24), nullable=False)
        batch_op.drop_column('session_id')

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('expires_at')

    op.drop_table('web_sessions')
