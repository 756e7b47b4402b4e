from foundation_db import app, client, db, migrated_sqlite, settings, world  # noqa: F401
