"""The squid.conf lines that make Squid use mamori's ICAP services (``mamori icap --squid-conf``).

Squid 5 (Debian 12 ships 5.7) parks its next read from the origin when the 64 KiB buffer that
feeds the ICAP service is full, and only data flowing to the client wakes that read again
(Squid bug 5352, fixed in Squid 7). mamori answers a RESPMOD only after it has read and scanned
the whole body, so without help any response over about 64 KiB from a fast origin would wait
forever. A delay pool wakes parked reads: Squid refills its buckets every second and then
resumes every read waiting in the pool. Its rate (``KICK_RATE`` bytes/s, about 8 Gbit/s) is far
above what one proxy forwards, so it wakes reads without limiting speed. Raise it for a faster
proxy, or merge the pool into an existing ``delay_pools`` setup (any finite aggregate rate
works; ``-1/-1`` does not, Squid keeps no bucket for it).
"""

from __future__ import annotations

KICK_RATE = 1_000_000_000


def squid_conf(
    host: str,
    port: int,
    *,
    respmod: bool = True,
    reqmod: bool = True,
    bypass: bool = False,
    kick_parked_reads: bool = True,
) -> str:
    """squid.conf lines for mamori's ``/respmod`` and ``/reqmod`` services at ``host:port``.

    ``bypass`` lets Squid pass traffic unscanned when mamori is unreachable (``bypass=on``);
    the default fails closed. ``kick_parked_reads`` adds the delay pool described above.
    """
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - a wildcard listen address, not a bind
        host = "127.0.0.1"  # Squid on the same machine; name the real address otherwise
    where = f"[{host}]" if ":" in host else host
    lines = [
        "# mamori ICAP content scanning",
        "icap_enable on",
        "icap_preview_enable on",
        "icap_persistent_connections on",
        "icap_send_client_ip on",
    ]
    flag = "on" if bypass else "off"
    if respmod:
        lines += [
            f"icap_service mamori_resp respmod_precache bypass={flag} "
            f"icap://{where}:{port}/respmod",
            "adaptation_access mamori_resp allow all",
        ]
    if reqmod:
        lines += [
            f"icap_service mamori_req reqmod_precache bypass={flag} icap://{where}:{port}/reqmod",
            "adaptation_access mamori_req allow all",
        ]
    if kick_parked_reads:
        lines += [
            "# Squid 5: wake origin reads parked while mamori reads a whole response body",
            "# (Squid bug 5352); the rate is far above the link speed, so nothing is slowed",
            "delay_pools 1",
            "delay_class 1 1",
            f"delay_parameters 1 {KICK_RATE}/{KICK_RATE}",
            "delay_access 1 allow all",
        ]
    return "\n".join(lines) + "\n"


__all__ = ["KICK_RATE", "squid_conf"]
