from foundation_db import app, client, db, migrated_sqlite, settings, world  # noqa: F401
from pg import postgres_url  # noqa: F401
