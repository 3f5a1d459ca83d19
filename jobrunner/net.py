"""Network facts shared by the client and the bundled server, so neither imports the other."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an IP literal, without brackets) is this machine only.

    The server refuses to bind elsewhere without ``--public``; the client bypasses any proxy
    from the environment for it, so a proxy never captures the bundled local server.
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


__all__ = ["is_loopback"]
