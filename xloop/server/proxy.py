"""``--proxy-headers``: trust X-Forwarded-For/-Proto from the addresses in --forwarded-allow-ips."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["ProxyHeaders"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ProxyHeaders:
    """Which peers are trusted proxies, and how to read what they forward."""

    def __init__(self, trusted: Iterable[str]) -> None:
        self.trust_all = False
        self.hosts: set[str] = set()
        self.networks: list[_Network] = []
        for entry in trusted:
            item = entry.strip()
            if not item:
                continue
            if item == "*":
                self.trust_all = True
            elif "/" in item and not item.startswith("/"):
                self.networks.append(ipaddress.ip_network(item, strict=False))
            else:
                try:
                    self.hosts.add(str(ipaddress.ip_address(item)))
                except ValueError:
                    self.hosts.add(item)  # a unix socket path or a literal name

    def trusts(self, host: str | None) -> bool:
        """Whether a direct peer address is a trusted proxy."""
        if self.trust_all:
            return True
        if host is None:
            return False
        if host in self.hosts:
            return True
        if not self.networks:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client_from(self, forwarded_for: bytes) -> str | None:
        """The client: the rightmost X-Forwarded-For entry that is not a trusted proxy."""
        entries = [item.strip() for item in forwarded_for.decode("latin-1").split(",")]
        entries = [item for item in entries if item]
        if not entries:
            return None
        if self.trust_all:
            return entries[0]
        for host in reversed(entries):
            if not self.trusts(host):
                return host
        return entries[0]
