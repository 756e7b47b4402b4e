import gc
from collections.abc import Iterator

import pytest

from foundation_db import app, client, db, migrated_sqlite, settings, world  # noqa: F401
from pg import postgres_url  # noqa: F401


@pytest.fixture(autouse=True)
def _collect_leftovers_on_the_main_thread() -> Iterator[None]:
    """Free objects earlier tests left behind before this test starts its threads.

    yara-x scanners (the scan area) must be dropped on the thread that made them; when an
    earlier test leaves one to the garbage collector and a collection happens to run in one
    of this test's worker threads (the web test client, an SMTP server), Python reports
    an unraisable error that fails this unrelated test. Collecting here, on the main thread,
    frees them where they were made.
    """
    gc.collect()
    yield
