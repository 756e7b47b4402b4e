"""Background services of ``mamori up`` / ``mamori worker``, one module per area."""
