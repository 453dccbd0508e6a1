"""libvirt's own autostart flag on a domain, set from a spec's autostart entries.

On a libvirt host xenctl keeps its autostart entries (the domain's config and its ordering:
order, after, up, stop, stop timeout) in xenctl's own record of the host, and ``xenctl boot`` /
``halt`` start and stop them in that dependency order. libvirt's flag says the same thing to
the host's own tools (``virsh list --autostart``, virt-manager): a domain with an entry is
flagged, and loses the flag with its entry. A domain that is not defined yet (declared stopped,
never created) cannot carry the flag: ``xenctl boot`` still starts it from its entry.
"""

from __future__ import annotations

from typing import Any

import libvirt


def set_flag(conn: Any, name: str, on: bool) -> bool:
    """Set or clear libvirt's autostart flag on the domain ``name``; False when no domain of that
    name is defined (nothing to flag)."""
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return False
        raise
    if bool(dom.autostart()) != on:
        dom.setAutostart(1 if on else 0)
    return True


def unflagged(conn: Any) -> frozenset[str]:
    """The defined domains libvirt does not start by itself when its daemon starts."""
    return frozenset(dom.name() for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART))
