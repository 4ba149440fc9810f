"""The egress guard for URLs users type (hosted mode): the static URL rules, the connect-time address check,
no redirects, and the adapters wired to it. Real sockets and real loopback servers throughout; the only
seams are the policy's own test hooks: an address rule that permits 127.0.0.1 (to reach a test server at
all), and a resolver for a `.invalid` name, which no real resolver answers (RFC 6761)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest

from playground.engine.runner import run_model
from providers import errors
from providers.base import CancelToken, ChatRequest, Message
from providers.egress import EgressPolicy, IPAddress, forbidden_address, literal_address, resolve_host
from providers.huggingface import HuggingFaceProvider
from providers.openai_compat import AzureOpenAIProvider, OpenAIProvider
from tests.conftest import remote_spec
from tests.scripted_server import ScriptedServer

REQUEST = ChatRequest(messages=(Message("user", "hello"),), max_tokens=8)
LOOPBACK = ipaddress.IPv4Address("127.0.0.1")
TEST_NAME = "egress-test.invalid"
KEY = "sk-egress-QZXWVJ"  # redacted from messages: nothing else in them may look like it
ANY = EgressPolicy(frozenset({"*"}))


# --- the address rule -----------------------------------------------------------------------------------

FORBIDDEN_ADDRESSES = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("::", "unspecified"),
    ("10.1.2.3", "private"),
    ("172.31.0.1", "private"),
    ("192.168.0.1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.10.10", "link-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "zone index"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("168.63.129.16", "metadata"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff0e::1", "multicast"),  # ipaddress calls this global on 3.11
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("198.18.0.1", "benchmarking"),
    ("192.0.2.1", "documentation"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),  # RFC 9637; ipaddress calls it global
    ("fec0::1", "site-local"),  # ipaddress calls it global
    ("::ffff:127.0.0.1", "IPv4-mapped IPv6 address (of 127.0.0.1, a loopback"),
    ("::ffff:8.8.8.8", "IPv4-mapped"),  # refused whatever it maps
    ("::ffff:0:7f00:1", "IPv4-translated"),
    ("::7f00:1", "IPv4-compatible"),  # ipaddress calls it global
    ("2002:7f00:1::", "embeds 127.0.0.1, a loopback"),  # 6to4; ipaddress calls it global
    ("2002:a9fe:a9fe::", "embeds 169.254.169.254, a cloud metadata"),
    ("64:ff9b::7f00:1", "embeds 127.0.0.1"),  # NAT64; ipaddress calls it global
    ("64:ff9b:1::1", "local-use NAT64"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("100::1", "discard-only"),
    ("4000::1", "outside the global unicast range"),
]


@pytest.mark.parametrize(("address", "reason"), FORBIDDEN_ADDRESSES)
def test_forbidden_addresses_name_their_reason(address, reason):
    assert reason in (forbidden_address(address) or "")


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "64:ff9b::808:808"])
def test_public_addresses_pass(address):
    assert forbidden_address(address) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
        ("api.example.com", None),
    ],
)
def test_literal_addresses_in_every_spelling(host, address):
    found = literal_address(host)
    assert (str(found) if found else None) == (str(ipaddress.ip_address(address)) if address else None)


# --- the URL as written -----------------------------------------------------------------------------------

REFUSED_URLS = [
    # numeric spellings of loopback and "this host"
    ("http://127.0.0.1/v1", "127.0.0.1 is a loopback address"),
    ("http://2130706433/v1", "2130706433 (that is 127.0.0.1) is a loopback"),
    ("http://0x7f000001/v1", "0x7f000001 (that is 127.0.0.1) is a loopback"),
    ("http://0x7F.0.0.1/v1", "loopback"),
    ("http://0177.0.0.1/v1", "0177.0.0.1 (that is 127.0.0.1) is a loopback"),  # httpx2 cannot even parse it
    ("http://127.1/v1", "127.1 (that is 127.0.0.1) is a loopback"),
    ("http://127.0.0.1./v1", "loopback"),
    ("http://127.0.0.1\u3002/v1", "loopback"),  # an ideographic full stop, mapped to "." by IDNA
    ("HTTP://127.0.0.1/v1", "loopback"),
    ("http://0/v1", "unspecified"),
    ("http://0.0.0.0:8080/v1", "unspecified"),
    ("http://[::1]:8080/v1", "loopback"),
    ("http://[::]/v1", "unspecified"),
    ("http://[::ffff:127.0.0.1]/v1", "IPv4-mapped"),
    ("http://[::ffff:7f00:1]/v1", "IPv4-mapped"),
    ("http://[0:0:0:0:0:ffff:7f00:1]/v1", "IPv4-mapped"),
    ("http://[::127.0.0.1]/v1", "IPv4-compatible"),
    ("http://[2002:7f00:1::]/v1", "embeds 127.0.0.1"),
    ("http://[fe80::1%25eth0]/v1", "characters a host name cannot have"),
    ("http://127.0.0.%31/v1", "characters a host name cannot have"),
    ("http://4294967296/v1", "looks like a numeric address"),
    ("http://08.0.0.1/v1", "not a valid URL"),
    # metadata, private, CGNAT and other special ranges
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
    ("http://0xa9fea9fe/latest/meta-data/", "cloud metadata"),
    ("http://100.64.0.1/v1", "carrier-grade NAT"),
    ("http://10.0.0.1/v1", "private network"),
    ("http://192.168.1.1/v1", "private network"),
    ("http://[fc00::1]/v1", "unique local"),
    ("http://224.0.0.1/v1", "multicast"),
    ("http://240.0.0.1/v1", "reserved"),
    ("http://192.0.2.10/v1", "documentation"),
    # schemes and user info
    ("file:///etc/passwd", "only http and https URLs are allowed, not file"),
    ("ftp://api.example.com/v1", "not ftp"),
    ("gopher://api.example.com:70/_x", "not gopher"),
    ("api.example.com/v1", "only http and https"),
    ("http://a@127.0.0.1/v1", "user name or password"),
    ("http://user:secret@api.example.com/v1", "user name or password"),
    ("http://api.example.com\\@127.0.0.1/v1", "user name or password"),
    ("http:///v1", "no host"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED_URLS)
def test_urls_refused_with_the_rule_they_break(url, reason):
    with pytest.raises(errors.EgressRefusedError) as refused:
        ANY.check_url(url)
    assert reason in refused.value.message
    assert refused.value.kind == "egress_refused" and not refused.value.retryable


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/v1",
        "https://API.Example.COM./v1",
        "http://8.8.8.8:8080/v1",
        "https://[2001:4860:4860::8888]/v1",
        "https://bücher.example/v1",
        "http://localhost:8080/v1",  # a name: judged by what it resolves to, at connect time
    ],
)
def test_any_host_passes_public_urls_and_names(url):
    ANY.check_url(url)


def test_the_allow_list_names_the_hosts():
    policy = EgressPolicy(frozenset({"API.example.com.", "bücher.example", "8.8.8.8"}))
    assert policy.allowed_hosts == {"api.example.com", "xn--bcher-kva.example", "8.8.8.8"}
    for url in (
        "https://api.example.com/v1",
        "https://api.example.com.:8443/v1",
        "https://xn--bcher-kva.example/v1",
        "http://134744072/v1",  # 8.8.8.8 spelled as one number
    ):
        policy.check_url(url)
    for url in ("https://evil.example.com/v1", "https://example.com/v1", "https://8.8.4.4/v1"):
        with pytest.raises(errors.EgressRefusedError, match="is not in PLAYGROUND_ALLOWED_ENDPOINT_HOSTS"):
            policy.check_url(url)


def test_an_empty_allow_list_turns_user_urls_off():
    with pytest.raises(errors.EgressRefusedError, match="PLAYGROUND_ALLOWED_ENDPOINT_HOSTS is not set"):
        EgressPolicy().check_url("https://api.example.com/v1")


# --- connect time ----------------------------------------------------------------------------------------


@contextmanager
def listener() -> Iterator[socket.socket]:
    """A bare listening socket on loopback: it shows whether anything even opened a TCP connection."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sock.settimeout(0.3)
        yield sock


def nothing_connected(sock: socket.socket) -> bool:
    try:
        sock.accept()[0].close()
    except TimeoutError:
        return True
    return False


def test_a_name_that_resolves_to_loopback_is_refused_at_connect_time():
    policy = EgressPolicy(frozenset({"localhost"}))
    assert any(address.is_loopback for address in resolve_host("localhost", 80))
    with ScriptedServer() as server:
        url = f"http://localhost:{server.port}/ok/v1"
        policy.check_url(url)  # a name passes the static check: only its addresses tell
        provider = OpenAIProvider(model="scripted", api_key=KEY, base_url=url, egress=policy)
        with pytest.raises(errors.EgressRefusedError) as refused:
            list(provider.stream(REQUEST, CancelToken()))
        assert server.requests == []
    assert "localhost resolves to a loopback address" in refused.value.message
    assert "127.0.0.1" not in refused.value.message  # a resolved address is never shown


def test_a_refused_name_opens_no_connection_at_all():
    with listener() as sock:
        port = sock.getsockname()[1]
        with (
            EgressPolicy(frozenset({"localhost"})).http_client(5) as client,
            pytest.raises(errors.EgressRefusedError),
        ):
            client.get(f"http://localhost:{port}/")
        assert nothing_connected(sock)


def test_a_name_with_one_forbidden_address_among_public_ones_is_refused():
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[IPAddress]:
        lookups.append(host)
        return [ipaddress.ip_address("93.184.215.14"), LOOPBACK]

    policy = EgressPolicy(frozenset({TEST_NAME}), resolver=resolver)
    with policy.http_client(5) as client, pytest.raises(errors.EgressRefusedError, match="loopback"):
        client.get(f"http://{TEST_NAME}/")
    assert lookups == [TEST_NAME]


def permit_loopback(address: IPAddress) -> str | None:
    """The production rule, except 127.0.0.1 (where the test servers listen)."""
    return None if address == LOOPBACK else forbidden_address(address)


class Lookups:
    """A resolver for TEST_NAME only, which remembers every lookup; other names resolve for real."""

    def __init__(self) -> None:
        self.hosts: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.hosts.append((host, port))
        return [LOOPBACK] if host == TEST_NAME else resolve_host(host, port)


def test_the_guarded_client_connects_to_the_vetted_address_without_a_second_lookup(monkeypatch):
    # TEST_NAME resolves nowhere on this machine, so a request that reaches the server was sent to the
    # address the policy vetted, with no lookup of its own; the proxy variables are ignored too.
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(TEST_NAME, 80)
    lookups = Lookups()
    policy = EgressPolicy(frozenset({TEST_NAME}), address_rule=permit_loopback, resolver=lookups)
    with ScriptedServer() as server, listener() as proxy:
        for variable in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            monkeypatch.setenv(variable, f"http://127.0.0.1:{proxy.getsockname()[1]}")
        url = f"http://{TEST_NAME}:{server.port}/ok~tokens=3/v1"
        provider = OpenAIProvider(model="scripted", api_key=KEY, base_url=url, egress=policy)
        chunks = list(provider.stream(REQUEST, CancelToken()))
        assert nothing_connected(proxy)
    assert "".join(getattr(chunk, "text", "") for chunk in chunks) == "word0 word1 word2 "
    assert lookups.hosts == [(TEST_NAME, server.port)]
    assert server.requests[0]["headers"]["Host"] == f"{TEST_NAME}:{server.port}"


def test_the_huggingface_adapter_sends_through_the_guarded_client():
    # huggingface_hub's own shared client could not resolve TEST_NAME: the answer proves the request went
    # through the guarded one.
    lookups = Lookups()
    policy = EgressPolicy(frozenset({TEST_NAME}), address_rule=permit_loopback, resolver=lookups)
    with ScriptedServer() as server:
        url = f"http://{TEST_NAME}:{server.port}/ok~tokens=2/v1"
        provider = HuggingFaceProvider(model="scripted", api_key=KEY, base_url=url, egress=policy)
        chunks = list(provider.stream(REQUEST, CancelToken()))
    assert "".join(getattr(chunk, "text", "") for chunk in chunks) == "word0 word1 "
    assert lookups.hosts == [(TEST_NAME, server.port)]
    assert server.requests[0]["path"] == "/ok~tokens=2/v1/chat/completions"


def test_each_request_is_checked_not_only_the_first_url():
    lookups = Lookups()
    policy = EgressPolicy(frozenset({TEST_NAME}), address_rule=permit_loopback, resolver=lookups)
    with policy.http_client(5) as client:
        for url in ("http://api.example.com/", "http://127.0.0.1:9/", "ftp://egress-test.invalid/"):
            with pytest.raises(errors.EgressRefusedError):
                client.get(url)
    assert lookups.hosts == []  # refused before any lookup


# --- TLS keeps the host name ------------------------------------------------------------------------------


def self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A certificate for `name` (no IP in it) and its key, as PEM files."""
    import datetime

    pytest.importorskip("cryptography")  # comes with the test tools, not declared by this project
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


class _Hello(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@contextmanager
def tls_server(cert_file: Path, key_file: Path) -> Iterator[tuple[int, list[str]]]:
    """An HTTPS server on loopback; yields its port and the SNI names clients sent."""
    names: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], names
    finally:
        server.shutdown()
        server.server_close()


def test_tls_checks_the_host_name_not_the_vetted_address(tmp_path):
    cert_file, key_file = self_signed(tmp_path, TEST_NAME)
    trusted = ssl.create_default_context(cafile=str(cert_file))
    policy = EgressPolicy(frozenset({TEST_NAME}), address_rule=permit_loopback, resolver=Lookups())
    with tls_server(cert_file, key_file) as (port, names):
        with policy.http_client(5, verify=trusted) as client:
            assert client.get(f"https://{TEST_NAME}:{port}/").text == "ok"
        assert names == [TEST_NAME]
        other_cert, _ = self_signed(tmp_path, "other.invalid")  # a certificate for another name fails
        with (
            policy.http_client(5, verify=ssl.create_default_context(cafile=str(other_cert))) as client,
            pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            client.get(f"https://{TEST_NAME}:{port}/")


# --- redirects ----------------------------------------------------------------------------------------------


@contextmanager
def redirecting(code: int, location: str) -> Iterator[tuple[int, list[str]]]:
    """A loopback server answering every request with `code` to `location`; yields its port and paths."""
    paths: list[str] = []

    class Redirect(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length") or 0))
            paths.append(self.path)
            self.send_response(code)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST  # noqa: N815

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], paths
    finally:
        server.shutdown()
        server.server_close()


GUARDED_TO_LOOPBACK = EgressPolicy(frozenset({TEST_NAME}), address_rule=permit_loopback, resolver=Lookups())


@pytest.mark.parametrize("code", [302, 307])
@pytest.mark.parametrize("adapter", [OpenAIProvider, HuggingFaceProvider], ids=["openai", "huggingface"])
def test_redirects_are_not_followed(code, adapter):
    with ScriptedServer() as target:
        # The target is an allowed host too: only the no-redirect rule stands between them.
        with redirecting(code, f"http://{TEST_NAME}:{target.port}/ok/v1/chat/completions") as (port, paths):
            url = f"http://{TEST_NAME}:{port}/start/v1"
            provider = adapter(model="m", api_key=KEY, base_url=url, egress=GUARDED_TO_LOOPBACK)
            not_followed = f"redirect \\({code}\\), which is not followed"
            with pytest.raises(errors.BadResponseError, match=not_followed):
                list(provider.stream(REQUEST, CancelToken()))
            assert paths == ["/start/v1/chat/completions"]
        assert target.requests == []


def test_a_request_that_asks_to_follow_redirects_gets_none():
    with ScriptedServer() as target:
        with redirecting(307, f"http://{TEST_NAME}:{target.port}/ok/v1/chat/completions") as (port, _):
            with GUARDED_TO_LOOPBACK.http_client(5) as client:
                assert client.post(f"http://{TEST_NAME}:{port}/", json={}).status_code == 307
                with pytest.raises(httpx2.TooManyRedirects):
                    client.post(f"http://{TEST_NAME}:{port}/", json={}, follow_redirects=True)
        assert target.requests == []


def test_a_trusted_url_still_follows_redirects():
    # The same redirect without a policy (local mode, the admin's models file) is followed, as before:
    # the refusal above comes from the guard, not from the test servers.
    with ScriptedServer() as target:
        with redirecting(307, f"{target.url('ok~tokens=2')}/chat/completions") as (port, _):
            provider = OpenAIProvider(model="m", api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1")
            chunks = list(provider.stream(REQUEST, CancelToken()))
        assert "".join(getattr(chunk, "text", "") for chunk in chunks) == "word0 word1 "
        assert len(target.requests) == 1


# --- the adapters ----------------------------------------------------------------------------------------


def adapters(url: str, policy: EgressPolicy) -> list[Any]:
    return [
        OpenAIProvider(model="m", api_key=KEY, base_url=url, egress=policy),
        AzureOpenAIProvider(
            deployment="m", api_key=KEY, endpoint=url, api_version="2024-10-21", egress=policy
        ),
        HuggingFaceProvider(model="m", api_key=KEY, base_url=url, egress=policy),
    ]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["openai", "azure", "huggingface"])
@pytest.mark.parametrize("spelling", ["127.0.0.1", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]"])
def test_adapters_refuse_a_forbidden_url_before_any_request(index, spelling):
    with ScriptedServer() as server:
        url = f"http://{spelling}:{server.port}/ok/v1"
        provider = adapters(url, ANY)[index]
        with pytest.raises(errors.EgressRefusedError) as at_prepare:
            provider.prepare()
        with pytest.raises(errors.EgressRefusedError) as at_stream:
            list(provider.stream(REQUEST, CancelToken()))
        assert server.requests == []
    for refused in (at_prepare.value, at_stream.value):
        assert refused.kind == "egress_refused" and "loopback" in refused.message


@pytest.mark.parametrize("index", [0, 1, 2], ids=["openai", "azure", "huggingface"])
def test_the_runner_reports_a_refusal_as_the_calls_error_without_retrying(index):
    with ScriptedServer() as server:
        url = f"http://169.254.169.254:{server.port}/ok/v1"
        result = run_model(remote_spec(url), adapters(url, ANY)[index], REQUEST, timeout_s=5)
        assert server.requests == []
    assert result.error is not None and result.error.kind == "egress_refused"
    assert "cloud metadata" in result.error.message
    assert result.attempts == 1


def test_without_a_policy_the_adapters_call_as_before(scripted):
    url = scripted.url("ok~tokens=2")
    for provider in (
        OpenAIProvider(model="m", api_key=KEY, base_url=url),
        HuggingFaceProvider(model="m", api_key=KEY, base_url=url),
    ):
        chunks = list(provider.stream(REQUEST, CancelToken()))
        assert "".join(getattr(chunk, "text", "") for chunk in chunks) == "word0 word1 "
