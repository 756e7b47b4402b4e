from foundation_db import db, migrated_sqlite, settings, world  # noqa: F401
