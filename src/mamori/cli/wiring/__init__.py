"""Factories that connect areas to the store and the bus for ``mamori up`` / ``mamori worker``."""
