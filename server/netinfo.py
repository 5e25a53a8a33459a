"""The machine's LAN addresses, for links students can open (``GET /api/lan``, join URLs).

No packets are sent: the primary address is the one the kernel would route an outside
destination from (a UDP socket's ``connect`` only picks a route), and the host name's own
addresses are added. Loopback, link-local and unspecified addresses are left out.
"""

from __future__ import annotations

import ipaddress
import socket

ALL_INTERFACES = ("0.0.0.0", "::", "")
HINT = (
    "the server listens on {host} only, so other machines cannot reach it; start it with "
    "kan-workbench serve --host 0.0.0.0 (and allow the port in the firewall)"
)
PROBES = ("10.255.255.255", "192.168.255.255", "172.31.255.255")


def _usable(addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr.split("%")[0])
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def _routed() -> list[str]:
    """The source address of a route to each probe (connect on UDP sends nothing)."""
    found = []
    for probe in PROBES:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                found.append(s.getsockname()[0])
        except OSError:
            continue
    return found


def _by_hostname() -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return [info[4][0] for info in infos]


def lan_addresses() -> list[str]:
    """Non-loopback IPv4 addresses of this machine, the routed (primary) one first."""
    out: list[str] = []
    for addr in [*_routed(), *_by_hostname()]:
        if _usable(addr) and addr not in out:
            out.append(addr)
    return out


def lan_info(host: str, port: int) -> dict:
    """The ``GET /api/lan`` answer for a server bound to ``host``."""
    if host in ALL_INTERFACES:
        return {"addresses": lan_addresses(), "port": port, "bound_to": host or "0.0.0.0"}
    if _usable(host):  # bound to one address: that one is what others can open
        return {"addresses": [host], "port": port, "bound_to": host}
    return {"addresses": [], "port": port, "bound_to": host, "hint": HINT.format(host=host)}


def url_host(addr: str) -> str:
    """An address as it goes in a URL (IPv6 in brackets)."""
    return f"[{addr}]" if ":" in addr else addr
