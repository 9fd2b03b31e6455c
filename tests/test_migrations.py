"""Migrations are the only way tables are made: one head, and nothing the models have that they lack."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from lti_tool.db import db


def test_single_head(app_ctx):
    app = app_ctx
    config = app.extensions["migrate"].migrate.get_config(app.extensions["migrate"].directory)
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}; merge them with `flask db merge`"


def test_models_match_migrations(app_ctx):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from the migrated schema; run `flask db migrate`: {diff}"
