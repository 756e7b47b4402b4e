"""Repositories: keyword-only functions over a Session, one module per resource.

They flush but never commit; the caller (web request, CLI command) owns the transaction.
"""
