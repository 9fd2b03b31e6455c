"""privacy: erasure records

Revision ID: 3c9e1f0a7b21
Revises: 581dd15d181b
Create Date: 2026-12-03 18:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c9e1f0a7b21'
down_revision = '581dd15d181b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('privacy_erasures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=True),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('pseudonym', sa.String(length=64), nullable=False),
    sa.Column('requested_by', sa.String(length=320), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_privacy_erasures_platform_id_platforms'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_erasures')),
    sa.UniqueConstraint('pseudonym', name=op.f('uq_privacy_erasures_pseudonym'))
    )
    with op.batch_alter_table('privacy_erasures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privacy_erasures_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('privacy_erasures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privacy_erasures_created_at'))

    op.drop_table('privacy_erasures')
