"""Response: alerts into incidents, SLA clocks, on-call, playbooks, notifications, breach track.

Storage-independent: services work against the repository protocols in
:mod:`mamori.respond.repos` (and the small protocols next to each feature); the in-memory
implementations serve tests and the single-process defaults.
"""
