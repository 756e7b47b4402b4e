"""Response actions, one module each; activation is this explicit import list."""

from mamori.respond.actions import (  # noqa: F401 - registers the actions
    block_indicator,
    disable_account,
    isolate_host,
    kill_process,
    notify,
    quarantine_file,
    release_host,
)
from mamori.respond.actions.base import (
    Action,
    ActionContext,
    ActionDeps,
    ActionResult,
    DirectoryWebhook,
    actions,
)

__all__ = ["Action", "ActionContext", "ActionDeps", "ActionResult", "DirectoryWebhook", "actions"]
