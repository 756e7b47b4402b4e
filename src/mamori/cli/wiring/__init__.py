"""Factories that wire the areas' background services into ``mamori up`` / ``mamori worker``."""
