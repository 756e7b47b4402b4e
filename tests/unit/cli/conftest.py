from foundation_db import db, migrated_sqlite, settings  # noqa: F401
