"""Notifications: e-mail, signed webhooks, chat webhooks; templates; delivery with retries.

Activation is this explicit import list (one line per notifier module).
"""

from mamori.respond.notify import chat, email, webhook  # noqa: F401 - registers notifiers
from mamori.respond.notify.base import Notification, Notifier, notifiers
from mamori.respond.notify.delivery import Deliverer, DeliveryRecord, MemoryDeliveryRepo

__all__ = [
    "Deliverer",
    "DeliveryRecord",
    "MemoryDeliveryRepo",
    "Notification",
    "Notifier",
    "notifiers",
]
