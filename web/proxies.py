"""X-Forwarded-For/-Proto, believed only from the configured proxies (CDDGIS_TRUSTED_PROXIES).

werkzeug's ProxyFix believes whoever sends the headers; installed for every peer, a request
sent straight to an app port could claim any client address (and dodge the sign-in throttle,
or pin it on someone else). Here ProxyFix sees only requests whose peer is a trusted proxy;
every other request keeps its real address, and its forwarded headers are ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix


class TrustedProxyFix:
    def __init__(self, app: Any, *, hops: int, trusted: Iterable[str]):
        self.app = app
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops)
        self.trusted = tuple(ipaddress.ip_network(t, strict=False) for t in trusted)

    def is_trusted(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address((peer or "").split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.is_trusted(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)
