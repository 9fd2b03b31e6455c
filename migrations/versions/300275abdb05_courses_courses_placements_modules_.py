"""courses: courses, placements, modules, items, quiz questions

Revision ID: 300275abdb05
Revises: dd2a8f0c9008
Create Date: 2026-11-27 00:00:45.607171

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '300275abdb05'
down_revision = 'dd2a8f0c9008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('courses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('owner_pk', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_pk'], ['users.id'], name=op.f('fk_courses_owner_pk_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_courses_platform_id_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_courses')),
    sa.UniqueConstraint('public_id', name=op.f('uq_courses_public_id'))
    )
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.create_index('ix_courses_platform_owner', ['platform_id', 'owner_pk'], unique=False)

    op.create_table('course_modules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('course_pk', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_pk'], ['courses.id'], name=op.f('fk_course_modules_course_pk_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_course_modules_platform_id_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_modules')),
    sa.UniqueConstraint('public_id', name=op.f('uq_course_modules_public_id'))
    )
    with op.batch_alter_table('course_modules', schema=None) as batch_op:
        batch_op.create_index('ix_course_modules_course_position', ['course_pk', 'position'], unique=False)

    op.create_table('course_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('course_pk', sa.Integer(), nullable=False),
    sa.Column('module_pk', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('media_key', sa.String(length=300), nullable=True),
    sa.Column('media_content_type', sa.String(length=100), nullable=True),
    sa.Column('media_size', sa.BigInteger(), nullable=True),
    sa.Column('media_filename', sa.String(length=255), nullable=True),
    sa.Column('media_sha256', sa.String(length=64), nullable=True),
    sa.Column('alt_text', sa.String(length=500), nullable=False),
    sa.Column('caption_key', sa.String(length=300), nullable=True),
    sa.Column('caption_size', sa.BigInteger(), nullable=True),
    sa.Column('caption_filename', sa.String(length=255), nullable=True),
    sa.Column('caption_language', sa.String(length=35), nullable=True),
    sa.Column('attempts_allowed', sa.Integer(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_timezone', sa.String(length=64), nullable=True),
    sa.Column('show_answers', sa.String(length=20), nullable=False),
    sa.Column('grade_policy', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_pk'], ['courses.id'], name=op.f('fk_course_items_course_pk_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['module_pk'], ['course_modules.id'], name=op.f('fk_course_items_module_pk_course_modules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_course_items_platform_id_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_items')),
    sa.UniqueConstraint('public_id', name=op.f('uq_course_items_public_id'))
    )
    with op.batch_alter_table('course_items', schema=None) as batch_op:
        batch_op.create_index('ix_course_items_course', ['course_pk'], unique=False)
        batch_op.create_index('ix_course_items_module_position', ['module_pk', 'position'], unique=False)

    op.create_table('course_placements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('course_pk', sa.Integer(), nullable=False),
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('placed_by_pk', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_pk'], ['contexts.id'], name=op.f('fk_course_placements_context_pk_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_pk'], ['courses.id'], name=op.f('fk_course_placements_course_pk_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['placed_by_pk'], ['users.id'], name=op.f('fk_course_placements_placed_by_pk_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_course_placements_platform_id_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_placements')),
    sa.UniqueConstraint('course_pk', 'context_pk', name=op.f('uq_course_placements_course_pk_context_pk'))
    )
    with op.batch_alter_table('course_placements', schema=None) as batch_op:
        batch_op.create_index('ix_course_placements_context', ['context_pk'], unique=False)

    op.create_table('quiz_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('item_pk', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('points', sa.Float(), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('accepted_answers', sa.JSON(), nullable=False),
    sa.Column('numeric_answer', sa.String(length=40), nullable=True),
    sa.Column('numeric_tolerance', sa.String(length=40), nullable=True),
    sa.Column('feedback', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['item_pk'], ['course_items.id'], name=op.f('fk_quiz_questions_item_pk_course_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], name=op.f('fk_quiz_questions_platform_id_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quiz_questions'))
    )
    with op.batch_alter_table('quiz_questions', schema=None) as batch_op:
        batch_op.create_index('ix_quiz_questions_item_position', ['item_pk', 'position'], unique=False)




def downgrade():
    with op.batch_alter_table('quiz_questions', schema=None) as batch_op:
        batch_op.drop_index('ix_quiz_questions_item_position')

    op.drop_table('quiz_questions')
    with op.batch_alter_table('course_placements', schema=None) as batch_op:
        batch_op.drop_index('ix_course_placements_context')

    op.drop_table('course_placements')
    with op.batch_alter_table('course_items', schema=None) as batch_op:
        batch_op.drop_index('ix_course_items_module_position')
        batch_op.drop_index('ix_course_items_course')

    op.drop_table('course_items')
    with op.batch_alter_table('course_modules', schema=None) as batch_op:
        batch_op.drop_index('ix_course_modules_course_position')

    op.drop_table('course_modules')
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_index('ix_courses_platform_owner')

    op.drop_table('courses')
