"""Response: alerts into incidents, SLA clocks, on-call, playbooks, notifications, breach track.

Storage-independent. Services work against small repository protocols; the in-memory
implementations here serve the tests, the bench and the single-process defaults, and the
store implements the same protocols in SQL:

==========================================  =============================================
protocol (module)                           holds
==========================================  =============================================
``IncidentRepo`` (repos)                    incidents; ``save`` checks ``version``
``AlertRepo`` (repos)                       deduplicated alert records, rejected alerts
``TenantDirectory`` (repos)                 known tenants and their hosts
``BlobStore`` (incidents)                   attachments by SHA-256 (``FileBlobStore``)
``ActionRepo`` (runner)                     response-action records
``PlaybookRunRepo`` (playbooks.engine)      playbook runs
``DeliveryRepo`` (notify.delivery)          notification outcomes
``PageRepo`` (oncall)                       on-call pages
``BreachRepo`` (breach)                     APPI breach tracks
``CommandQueue`` (commands)                 endpoint agent commands
``BlocklistRepo`` (blocklist)               C2 blocklist entries
==========================================  =============================================

:class:`mamori.respond.wiring.Respond` wires everything around one hook dispatcher.
"""
