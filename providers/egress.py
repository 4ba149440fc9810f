"""The egress guard for URLs a user types in hosted mode: which hosts and addresses the server may call.

A URL passes two checks. `EgressPolicy.check_url` judges the URL as written (scheme, user info, the host
against PLAYGROUND_ALLOWED_ENDPOINT_HOSTS, a literal address in any spelling) before any request. Then the
client from `EgressPolicy.http_client` judges, at connect time, every address the host name resolves to,
and connects to the vetted address itself: a name that resolves elsewhere a second later (DNS rebinding)
cannot slip through, because there is no second lookup. Redirects are never followed.

This module imports no HTTP library until a client is built (a first page load stays light).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from providers.errors import EgressRefusedError

if TYPE_CHECKING:
    import httpx2

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressRule = Callable[[IPAddress], "str | None"]
Resolver = Callable[[str, int], "list[IPAddress]"]

ALLOWED_HOSTS_VARIABLE = "PLAYGROUND_ALLOWED_ENDPOINT_HOSTS"
ANY_HOST = "*"
ALLOWED_SCHEMES = ("http", "https")

_net = ipaddress.ip_network
# Cloud instance metadata services. 169.254.169.254 (AWS, GCP, Azure, Oracle...) and fd00:ec2::254 (AWS
# over IPv6) are link-local or private anyway; 169.254.170.2 is the ECS task endpoint, 100.100.100.200
# Alibaba's; 168.63.129.16 is Azure's WireServer, a public address that only answers from inside Azure.
METADATA_ADDRESSES = frozenset(
    map(
        ipaddress.ip_address,
        ("169.254.169.254", "169.254.170.2", "100.100.100.200", "168.63.129.16", "fd00:ec2::254"),
    )
)
# Named so a refusal says what the range is; anything else not globally routable is refused as such.
_V4_RANGES = (
    (_net("0.0.0.0/8"), "an unspecified ('this network') address"),
    (_net("127.0.0.0/8"), "a loopback address"),
    (_net("10.0.0.0/8"), "a private network address"),
    (_net("172.16.0.0/12"), "a private network address"),
    (_net("192.168.0.0/16"), "a private network address"),
    (_net("169.254.0.0/16"), "a link-local address"),
    (_net("100.64.0.0/10"), "a carrier-grade NAT (shared) address"),
    (_net("224.0.0.0/4"), "a multicast address"),
    (_net("240.0.0.0/4"), "a reserved address"),
    (_net("198.18.0.0/15"), "a benchmarking address"),
    (_net("192.0.2.0/24"), "a documentation address"),
    (_net("198.51.100.0/24"), "a documentation address"),
    (_net("203.0.113.0/24"), "a documentation address"),
    (_net("192.0.0.0/24"), "an IETF protocol assignment address"),
    (_net("192.88.99.0/24"), "a 6to4 relay anycast address"),
)
_V6_RANGES = (
    (_net("::/128"), "the unspecified address"),
    (_net("::1/128"), "a loopback address"),
    (_net("::ffff:0:0:0/96"), "an IPv4-translated IPv6 address"),
    (_net("::/96"), "an IPv4-compatible IPv6 address"),
    (_net("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (_net("2001::/32"), "a Teredo tunnel address"),
    (_net("ff00::/8"), "a multicast address"),
    (_net("fe80::/10"), "a link-local address"),
    (_net("fec0::/10"), "a site-local address"),
    (_net("fc00::/7"), "a private (unique local) address"),
    (_net("100::/64"), "a discard-only address"),
    (_net("2001:2::/48"), "a benchmarking address"),
    (_net("2001:db8::/32"), "a documentation address"),
    (_net("3fff::/20"), "a documentation address"),
)
_NAT64 = _net("64:ff9b::/96")
_SIX_TO_FOUR = _net("2002::/16")
_GLOBAL_UNICAST = _net("2000::/3")


def forbidden_address(address: IPAddress | str) -> str | None:
    """Why this server may not connect to `address` ("a loopback address", ...), or None when it may.

    `ipaddress.is_global` alone is not enough on Python 3.11: it calls multicast, site-local, IPv4-
    compatible, 6to4 and NAT64 addresses that embed 127.0.0.1, and the 3fff::/20 documentation range
    global. So the named ranges come first, addresses that embed an IPv4 address are judged by it, and
    `is_global` is the last net."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if ip.version == 6 and ip.scope_id:
        return "an address with a zone index (link-local scope)"
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.version == 6 and ip.ipv4_mapped is not None:
        # Refused whatever it maps: a name has no business resolving to one. The reason names the target.
        inner = forbidden_address(ip.ipv4_mapped)
        return f"an IPv4-mapped IPv6 address (of {ip.ipv4_mapped}{', ' + inner if inner else ''})"
    ranges = _V4_RANGES if ip.version == 4 else _V6_RANGES
    for network, reason in ranges:
        if ip in network:
            return reason
    if ip.version == 6:
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = forbidden_address(embedded)
            return f"an address that embeds {embedded}, {inner}" if inner else None
        if ip not in _GLOBAL_UNICAST:
            return "a reserved address (outside the global unicast range)"
    if not ip.is_global:
        return "an address that is not globally routable"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4 or NAT64 (64:ff9b::/96) address reaches; those are judged by it."""
    if ip in _SIX_TO_FOUR:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


# The characters a host name (after IDNA) or an IPv6 literal may have; anything else (a percent sign,
# a space, a backslash) is refused rather than guessed at.
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
_IPV6_LITERAL = re.compile(r"[0-9a-f:.]+")
# A last label that is a number (decimal, or 0x hex): browsers (WHATWG) and inet_aton read such a host
# as an IPv4 address, so one that is not a valid address is refused, never sent to DNS as a name.
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as a number means, in any spelling the C resolver accepts: dotted,
    decimal (2130706433), hex (0x7f000001), octal (0177.0.0.1), short (127.1), or IPv6 (::ffff:7f00:1).
    None for a host name. `host` is lower-case without brackets or a trailing dot.

    `socket.inet_aton` is glibc's own parser, the one getaddrinfo uses for numeric IPv4 hosts, so it
    accepts exactly the legacy spellings the resolver would turn into an address; `ipaddress` alone
    accepts only the dotted quad. Raises ValueError for a host that looks numeric but is no address."""
    if ":" in host:
        return ipaddress.IPv6Address(host)  # ValueError for a malformed literal
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        pass
    if _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        raise ValueError(f"{host} looks like a numeric address but is not a valid one")
    return None


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to for a TCP connection, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0])
        if ip not in found:
            found.append(ip)
    return found


def normal_host(host: str) -> str:
    """A host name as the HTTP client sends it: lower-case, IDNA-encoded, without a trailing dot."""
    host = host.strip().lower().rstrip(".")
    if host.isascii():
        return host
    import idna  # httpx2 encodes host names with it (UTS 46), so the allow list is compared alike

    return idna.encode(host, uts46=True).decode("ascii")


@dataclass(frozen=True)
class EgressPolicy:
    """Where the server may send requests for URLs users type (hosted mode).

    `allowed_hosts` holds host names; `"*"` in it means any host. Either way every address is judged by
    `address_rule`. Empty: no user URL is called at all. `address_rule` and `resolver` are replaced only
    by tests (to reach a loopback test server, or to prove there is no second lookup)."""

    allowed_hosts: frozenset[str] = frozenset()
    address_rule: AddressRule = field(default=forbidden_address, repr=False, compare=False)
    resolver: Resolver = field(default=resolve_host, repr=False, compare=False)

    def __post_init__(self) -> None:
        hosts = frozenset(normal_host(host) for host in self.allowed_hosts if host.strip())
        object.__setattr__(self, "allowed_hosts", hosts)

    def check_url(self, url: str) -> None:
        """Refuse (EgressRefusedError, naming the rule) a URL this server may not call."""
        import httpx2

        try:
            parsed = httpx2.URL(url)
        except (httpx2.InvalidURL, TypeError, ValueError) as exc:
            reason = self._unparsable_refusal(url) or f"it is not a valid URL ({exc})"
            raise EgressRefusedError(f"This server may not call that URL: {reason}.") from None
        self.check_parsed(parsed)

    def _unparsable_refusal(self, url: str) -> str | None:
        """For a URL httpx2 cannot parse (so it could never be called): the address rule its host breaks,
        when the standard library's parser reads one (httpx2 refuses 0177.0.0.1; the user should learn
        it is a loopback address, not a typo)."""
        try:
            host = (urlsplit(url).hostname or "").rstrip(".")
            address = literal_address(host) if host else None
        except ValueError:
            return None
        reason = self.address_rule(address) if address is not None else None
        return f"{_shown(host, address)} is {reason}" if address is not None and reason else None

    def check_parsed(self, url: httpx2.URL) -> None:
        """`check_url` for a URL httpx2 already parsed (each request the guarded client sends)."""
        reason = self._url_refusal(url)
        if reason is not None:
            raise EgressRefusedError(f"This server may not call that URL: {reason}.")

    def _url_refusal(self, url: httpx2.URL) -> str | None:
        """Why `url` is refused, checked in this order: scheme, user info, host syntax, the allow list
        being empty, a literal address, the host not being allowed."""
        if url.scheme not in ALLOWED_SCHEMES:
            return f"only http and https URLs are allowed, not {url.scheme or 'a URL without a scheme'}"
        if url.userinfo:
            return "a user name or password in the URL (user@host) is not allowed"
        host = url.raw_host.decode("ascii", "replace").rstrip(".")
        if not host:
            return "the URL has no host"
        if not (_HOST_NAME.fullmatch(host) or (":" in host and _IPV6_LITERAL.fullmatch(host))):
            return f"the host {host!r} has characters a host name cannot have (percent-encoding, spaces...)"
        if not self.allowed_hosts:
            return f"URLs typed by users are off on this server ({ALLOWED_HOSTS_VARIABLE} is not set)"
        try:
            address = literal_address(host)
        except ValueError as exc:
            return str(exc)
        if address is not None and (reason := self.address_rule(address)):
            return f"{_shown(host, address)} is {reason}"
        names = {host} if address is None else {host, str(address)}
        if ANY_HOST not in self.allowed_hosts and not names & self.allowed_hosts:
            return f"the host {host} is not in {ALLOWED_HOSTS_VARIABLE}"
        return None

    def http_client(self, timeout: float | httpx2.Timeout, *, verify: Any = True) -> httpx2.Client:
        """An httpx2 client for a user's URL: each request is checked like `check_url` (so a redirect
        target would be too), each connection goes to an address vetted at connect time, redirects are
        not followed, and nothing is read from the environment (no proxy variables, no netrc).
        `verify` is httpx2's (tests pass a context that trusts their own certificate)."""
        import httpx2

        def check_request(request: httpx2.Request) -> None:
            self.check_parsed(request.url)

        return httpx2.Client(
            transport=_guarded_transport(self, verify),
            event_hooks={"request": [check_request]},
            follow_redirects=False,
            # Even a call that asks to follow redirects per request gets none: httpx2 raises
            # TooManyRedirects before it sends the second request.
            max_redirects=0,
            trust_env=False,
            timeout=timeout,
        )


def _shown(host: str, address: IPAddress) -> str:
    """A literal host as typed, with the address it means when spelled another way (0x7f000001)."""
    if address.version == 6 or host == str(address):
        return host
    return f"{host} (that is {address})"


def _guarded_transport(policy: EgressPolicy, verify: Any) -> httpx2.HTTPTransport:
    """httpx2's own transport with a connection pool whose network backend vets addresses."""
    import httpcore2
    import httpx2

    transport = httpx2.HTTPTransport(verify=verify, trust_env=False)
    # httpx2's HTTPTransport takes no httpcore network backend (upstream: encode/httpx#3749, open), so
    # its pool is replaced by one built the same way with ours; request and error mapping stay httpx2's.
    # httpcore's network backends are public API (encode/httpcore#699).
    if not hasattr(transport, "_pool"):
        raise RuntimeError("httpx2.HTTPTransport no longer has a _pool to give a network backend to")
    transport._pool = httpcore2.ConnectionPool(
        ssl_context=httpx2.create_ssl_context(verify=verify, trust_env=False),
        max_connections=100,  # httpx2's default limits
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=VettingBackend(policy.address_rule, policy.resolver),
    )
    return transport


class VettingBackend:
    """An httpcore2 network backend that resolves a host once, refuses it if any of its addresses is
    forbidden, and connects to a vetted address itself (so the socket never looks the name up again).

    TLS is untouched: httpcore2 starts it on the returned stream with the URL's host name for SNI and
    certificate checks. It implements httpcore2.NetworkBackend's methods without subclassing it, so this
    module imports httpcore2 only when a client is built."""

    def __init__(self, address_rule: AddressRule, resolver: Resolver) -> None:
        import httpcore2

        self._rule = address_rule
        self._resolve = resolver
        self._sockets = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> Any:
        """Connect to the first vetted address of `host` that answers, within `timeout` in all."""
        import httpcore2

        addresses = self._vetted(host, port)
        deadline = None if timeout is None else time.monotonic() + timeout
        failure: Exception | None = None
        for address in addresses:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return self._sockets.connect_tcp(
                    str(address),
                    port,
                    timeout=left,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        raise failure or httpcore2.ConnectError(f"no address to connect to for {host}")

    def _vetted(self, host: str, port: int) -> list[IPAddress]:
        """All addresses of `host`; refused when any one is forbidden (a name that also points inward is
        not one to trust for the others)."""
        import httpcore2

        try:
            addresses = self._resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore2.ConnectError(f"could not resolve {host}: {exc}") from exc
        for address in addresses:
            reason = self._rule(address)
            if reason is not None:
                # The address itself is not shown: it would map a server's internal names for a visitor.
                raise EgressRefusedError(f"This server may not call that URL: {host} resolves to {reason}.")
        return addresses

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        """Never: a user's URL reaches hosts by TCP only."""
        raise EgressRefusedError("This server may not call that URL: Unix sockets are not allowed.")

    def sleep(self, seconds: float) -> None:
        """Wait between connection retries (httpcore2 asks its backend to)."""
        time.sleep(seconds)
