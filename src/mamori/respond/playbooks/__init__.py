"""Playbooks as YAML (package data + per tenant): model, loader/validator and engine."""

from mamori.respond.playbooks.loader import (
    default_playbooks,
    load_file,
    load_tenant_dir,
    parse_playbooks,
    validate,
)
from mamori.respond.playbooks.model import Playbook, Step, Trigger

__all__ = [
    "Playbook",
    "Step",
    "Trigger",
    "default_playbooks",
    "load_file",
    "load_tenant_dir",
    "parse_playbooks",
    "validate",
]
