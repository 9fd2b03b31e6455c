"""analytics: facts, ingest cursor, roll-ups

Revision ID: 581dd15d181b
Revises: dc01f84e52de
Create Date: 2026-11-27 00:03:18.309404

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '581dd15d181b'
down_revision = 'dc01f84e52de'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('analytics_ingest_cursor',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('last_event_id', sa.BigInteger(), nullable=False),
    sa.Column('gaps', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_analytics_ingest_cursor'))
    )
    op.create_table('analytics_context_days',
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('learners', sa.Integer(), nullable=False),
    sa.Column('launches', sa.Integer(), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.Column('progress_events', sa.Integer(), nullable=False),
    sa.Column('submissions', sa.Integer(), nullable=False),
    sa.Column('grades_delivered', sa.Integer(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('time_on_task', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['context_pk'], ['contexts.id'], name=op.f('fk_analytics_context_days_context_pk_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_analytics_context_days_platform_id_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('context_pk', 'day', name=op.f('pk_analytics_context_days'))
    )
    op.create_table('analytics_contexts',
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('learners', sa.Integer(), nullable=False),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rolled_up_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_pk'], ['contexts.id'], name=op.f('fk_analytics_contexts_context_pk_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_analytics_contexts_platform_id_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('context_pk', name=op.f('pk_analytics_contexts'))
    )
    op.create_table('analytics_dirty',
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('touched_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_pk'], ['contexts.id'], name=op.f('fk_analytics_dirty_context_pk_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_analytics_dirty_platform_id_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('context_pk', 'day', name=op.f('pk_analytics_dirty'))
    )
    op.create_table('analytics_dirty_learners',
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('touched_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_pk'], ['contexts.id'], name=op.f('fk_analytics_dirty_learners_context_pk_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_analytics_dirty_learners_platform_id_platforms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_pk'], ['users.id'], name=op.f('fk_analytics_dirty_learners_user_pk_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('context_pk', 'user_pk', name=op.f('pk_analytics_dirty_learners'))
    )
    op.create_table('analytics_facts',
    sa.Column('event_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('context_pk', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('user_pk', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('is_learner', sa.Boolean(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ts', sa.Float(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('position', sa.Float(), nullable=True),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.Column('progress', sa.Float(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('max_score', sa.Float(), nullable=True),
    sa.Column('scaled', sa.Float(), nullable=True),
    sa.Column('ref_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_analytics_facts_platform_id_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('context_pk', 'user_pk', 'event_id', name=op.f('pk_analytics_facts'))
    )
    with op.batch_alter_table('analytics_facts', schema=None) as batch_op:
        batch_op.create_index('ix_analytics_facts_context_day', ['context_pk', 'day'], unique=False)

    op.create_table('analytics_item_days',
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.Column('viewers', sa.Integer(), nullable=False),
    sa.Column('learners', sa.Integer(), nullable=False),
    sa.Column('progress_events', sa.Integer(), nullable=False),
    sa.Column('submissions', sa.Integer(), nullable=False),
    sa.Column('submitters', sa.Integer(), nullable=False),
    sa.Column('scaled_sum', sa.Float(), nullable=False),
    sa.Column('scored', sa.Integer(), nullable=False),
    sa.Column('grades_delivered', sa.Integer(), nullable=False),
    sa.Column('time_on_task', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['context_pk'], ['contexts.id'], name=op.f('fk_analytics_item_days_context_pk_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_analytics_item_days_platform_id_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('context_pk', 'item_id', 'day', name=op.f('pk_analytics_item_days'))
    )
    op.create_table('analytics_items',
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('completion_rule', sa.String(length=10), nullable=False),
    sa.Column('learners', sa.Integer(), nullable=False),
    sa.Column('viewers', sa.Integer(), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.Column('completions', sa.Integer(), nullable=False),
    sa.Column('watchers', sa.Integer(), nullable=False),
    sa.Column('median_progress', sa.Float(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('submitters', sa.Integer(), nullable=False),
    sa.Column('avg_scaled', sa.Float(), nullable=True),
    sa.Column('score_bins', sa.JSON(), nullable=False),
    sa.Column('time_on_task', sa.Float(), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['context_pk'], ['contexts.id'], name=op.f('fk_analytics_items_context_pk_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_analytics_items_platform_id_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('context_pk', 'item_id', name=op.f('pk_analytics_items'))
    )
    op.create_table('analytics_learner_items',
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.Column('progress_events', sa.Integer(), nullable=False),
    sa.Column('max_progress', sa.Float(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('best_scaled', sa.Float(), nullable=True),
    sa.Column('time_on_task', sa.Float(), nullable=False),
    sa.Column('completed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['context_pk'], ['contexts.id'], name=op.f('fk_analytics_learner_items_context_pk_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_analytics_learner_items_platform_id_platforms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_pk'], ['users.id'], name=op.f('fk_analytics_learner_items_user_pk_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('context_pk', 'user_pk', 'item_id', name=op.f('pk_analytics_learner_items'))
    )
    with op.batch_alter_table('analytics_learner_items', schema=None) as batch_op:
        batch_op.create_index('ix_analytics_learner_items_item', ['context_pk', 'item_id'], unique=False)

    op.create_table('analytics_learners',
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('active_days', sa.Integer(), nullable=False),
    sa.Column('time_on_task', sa.Float(), nullable=False),
    sa.Column('items_viewed', sa.Integer(), nullable=False),
    sa.Column('items_completed', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('quizzes_attempted', sa.Integer(), nullable=False),
    sa.Column('avg_scaled', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['context_pk'], ['contexts.id'], name=op.f('fk_analytics_learners_context_pk_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_analytics_learners_platform_id_platforms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_pk'], ['users.id'], name=op.f('fk_analytics_learners_user_pk_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('context_pk', 'user_pk', name=op.f('pk_analytics_learners'))
    )
    op.create_table('analytics_media_state',
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('max_progress', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['context_pk'], ['contexts.id'], name=op.f('fk_analytics_media_state_context_pk_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_analytics_media_state_platform_id_platforms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_pk'], ['users.id'], name=op.f('fk_analytics_media_state_user_pk_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('context_pk', 'user_pk', 'item_id', name=op.f('pk_analytics_media_state'))
    )


def downgrade():
    op.drop_table('analytics_media_state')
    op.drop_table('analytics_learners')
    with op.batch_alter_table('analytics_learner_items', schema=None) as batch_op:
        batch_op.drop_index('ix_analytics_learner_items_item')

    op.drop_table('analytics_learner_items')
    op.drop_table('analytics_items')
    op.drop_table('analytics_item_days')
    with op.batch_alter_table('analytics_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_analytics_facts_context_day')

    op.drop_table('analytics_facts')
    op.drop_table('analytics_dirty_learners')
    op.drop_table('analytics_dirty')
    op.drop_table('analytics_contexts')
    op.drop_table('analytics_context_days')
    op.drop_table('analytics_ingest_cursor')
