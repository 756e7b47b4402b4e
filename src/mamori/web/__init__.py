"""The web application: JSON API under ``/api/v1`` and the server-rendered UI."""

from mamori.web.app import create_app

__all__ = ["create_app"]
