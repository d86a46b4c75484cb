"""Listen addresses, URLs and their redaction (pure functions, table-driven and property-based)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.config.addresses import ListenAddress, parse_listen, parse_url, redact_userinfo
from netmon.config.errors import Problem


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:8080", "127.0.0.1", 8080),
        ("0.0.0.0:1", "0.0.0.0", 1),
        ("[::1]:9101", "::1", 9101),
        ("[::]:65535", "::", 65535),
        ("localhost:8080", "localhost", 8080),
        ("collector-1.netmon.example:443", "collector-1.netmon.example", 443),
    ],
)
def test_listen_addresses_that_servers_accept(text: str, host: str, port: int) -> None:
    addr = parse_listen(text)
    assert addr == ListenAddress(host, port)
    assert parse_listen(str(addr)) == addr


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("nowhere", "needs a port"),
        ("127.0.0.1:notaport", "not a number"),
        ("127.0.0.1:99999", "out of range"),
        ("127.0.0.1:0", "out of range"),
        ("127.0.0.1:-1", "not a number"),
        ("127.0.0.1:", "not a number"),
        (":8080", "has no host"),
        ("::1:8080", "in brackets"),
        ("[nothost]:8080", "not an IPv6 address"),
        ("bad_name!:8080", "neither an IP address nor a host name"),
        ("-lead.example:8080", "neither an IP address nor a host name"),
        ("127.0.0.1:８０", "not a number"),  # full-width digits: int() takes them, a socket does not
    ],
)
def test_listen_addresses_that_would_crash_at_start_up(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_listen(text)


@pytest.mark.parametrize(
    ("url", "schemes", "path", "host", "port"),
    [
        ("mqtt://127.0.0.1", ("mqtt", "mqtts"), False, "127.0.0.1", None),
        ("mqtts://broker.example:8883/", ("mqtt", "mqtts"), False, "broker.example", 8883),
        ("mqtt://[::1]:1883", ("mqtt", "mqtts"), False, "::1", 1883),
        ("https://influx.example/prefix", ("http", "https"), True, "influx.example", None),
    ],
)
def test_urls_accepted(url: str, schemes: tuple[str, ...], path: bool, host: str, port: int | None) -> None:
    parts = parse_url(url, schemes, path=path)
    assert (parts.hostname, parts.port) == (host, port)


@pytest.mark.parametrize(
    ("url", "path", "why"),
    [
        ("mqtt://127.0.0.1:notaport", False, "not a valid URL"),
        ("mqtt://127.0.0.1:70000", False, "not a valid URL"),
        ("mqtt://127.0.0.1:0", False, "give a port"),
        ("mqtt://127.0.0.1:", False, "give a port"),
        ("tcp://127.0.0.1", False, "must start with mqtt:// or mqtts://"),
        ("nowhere", False, "must start with"),
        ("mqtt://", False, "the host is missing"),
        ("mqtt://[::1", False, "not a valid URL"),
        ("mqtt://bad_host", False, "neither an IP address nor a host name"),
        ("mqtt://admin:hunter22@host", False, "carries a user or password"),
        ("mqtt://host/topic", False, "may not have a path"),
        ("mqtt://host?x=1", False, "query"),
        ("https://host/p#frag", True, "fragment"),
    ],
)
def test_urls_refused_with_the_password_redacted(url: str, path: bool, why: str) -> None:
    schemes = ("http", "https") if path else ("mqtt", "mqtts")
    with pytest.raises(ValueError, match=why) as err:
        parse_url(url, schemes, path=path)
    assert "hunter22" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("mqtt://admin:hunter22@host:1883", "mqtt://<secret>@host:1883"),
        ("tcp://admin:p@ss@host/x", "tcp://<secret>@host/x"),  # a password may hold an "@"
        ("https://token@api.example/v2", "https://<secret>@api.example/v2"),
        (
            "error: 'mqtt://u:pw@h' refused; retry mqtt://u:pw@h2",
            "error: 'mqtt://<secret>@h' refused; retry mqtt://<secret>@h2",
        ),
        ("mqtt://host:1883", "mqtt://host:1883"),
        ("mail me at a@b.example", "mail me at a@b.example"),
        ("https://host/users/@bob", "https://host/users/@bob"),  # an "@" in the path is no user
    ],
)
def test_redaction_table(text: str, shown: str) -> None:
    assert redact_userinfo(text) == shown


_secretish = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Cc"), blacklist_characters="/?#'\"<>"))


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["mqtt", "mqtts", "http", "https", "tcp"]),
    user=_secretish,
    password=_secretish.filter(lambda p: len(p) >= 4),
    host=st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z]{2,5})?", fullmatch=True),
    prefix=st.text(max_size=20),
    suffix=st.sampled_from(["", "/", ":1883", "/path?q=1", " and more"]),
)
def test_a_password_in_a_url_is_never_shown(
    scheme: str, user: str, password: str, *, host: str, prefix: str, suffix: str
) -> None:
    marker = "\x00PW\x00"  # locate the password in the output without it colliding with other text
    text = f"{prefix} {scheme}://{user}:{marker}{password}@{host}{suffix}"
    shown = redact_userinfo(text)
    assert marker not in shown
    assert f"{scheme}://<secret>@{host}{suffix}" in shown
    # the problem lines check-config prints go through the same function
    assert marker not in str(Problem("a.yaml", 3, "broker.url", text))
