"""SNMP credential profiles with their secrets read: built once, when the poller is built."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any

from pysnmp.hlapi.v3arch.asyncio import auth as hauth

from netmon.config.credentials import AuthProtocol, PrivProtocol, SnmpProfile
from netmon.config.secrets import Secret

_AUTH = {
    AuthProtocol.MD5: hauth.USM_AUTH_HMAC96_MD5,
    AuthProtocol.SHA: hauth.USM_AUTH_HMAC96_SHA,
    AuthProtocol.SHA224: hauth.USM_AUTH_HMAC128_SHA224,
    AuthProtocol.SHA256: hauth.USM_AUTH_HMAC192_SHA256,
    AuthProtocol.SHA384: hauth.USM_AUTH_HMAC256_SHA384,
    AuthProtocol.SHA512: hauth.USM_AUTH_HMAC384_SHA512,
}
# AES-192/256 use the Blumenthal key extension, as net-snmp's AES192/AES256 do. Cisco's
# "AES-192/256" (Reeder key extension) is a different algorithm of the same name.
_PRIV = {
    PrivProtocol.DES: hauth.USM_PRIV_CBC56_DES,
    PrivProtocol.DES3: hauth.USM_PRIV_CBC168_3DES,
    PrivProtocol.AES128: hauth.USM_PRIV_CFB128_AES,
    PrivProtocol.AES192: hauth.USM_PRIV_CFB192_AES_BLUMENTHAL,
    PrivProtocol.AES256: hauth.USM_PRIV_CFB256_AES_BLUMENTHAL,
}

_community_index: dict[tuple[str, int], str] = {}


class SnmpConfigError(ValueError):
    """A profile that cannot be used (missing secret, missing crypto library)."""


@dataclass(frozen=True, slots=True)
class ResolvedProfile:
    """An :class:`SnmpProfile` with its secrets read; built once, when the poller is built."""

    name: str
    profile: SnmpProfile
    auth_data: Any  # CommunityData | UsmUserData: pysnmp's classes are untyped
    community: bytes = field(default=b"", repr=False)
    auth_pass: bytes = field(default=b"", repr=False)
    priv_pass: bytes = field(default=b"", repr=False)

    @property
    def version(self) -> str:
        """``1``, ``2c`` or ``3``."""
        return self.profile.version


def resolve_profile(name: str, profile: SnmpProfile, secrets: dict[str, Secret] | None = None) -> ResolvedProfile:
    """Build pysnmp credentials for a profile.

    Args:
        name: Profile name (for messages).
        profile: The profile.
        secrets: Resolved secrets by field (``community``, ``auth_key``, ``priv_key``).

    Raises:
        SnmpConfigError: A secret is missing, or privacy is asked for but the
            ``cryptography`` package (which pysnmp needs and does not declare) is absent.
    """
    secrets = secrets or {}

    def need(key: str) -> str:
        sec = secrets.get(key)
        if sec is None:
            raise SnmpConfigError(f"SNMP profile {name!r}: {key} is not resolved")
        return sec.reveal()

    if profile.version in ("1", "2c"):
        community = need("community")
        mp_model = 0 if profile.version == "1" else 1
        # pysnmp maps a response's community back to a table entry by the community
        # string: two entries with the same string make it pick one whose tag may not
        # match, and it drops the other's responses. One entry per (string, version).
        index = _community_index.setdefault((community, mp_model), f"netmon-c{len(_community_index)}")
        data = hauth.CommunityData(index, community, mpModel=mp_model)
        return ResolvedProfile(name, profile, data, community.encode("utf-8"))
    if profile.priv_protocol is not None and importlib.util.find_spec("cryptography") is None:
        raise SnmpConfigError(
            f"SNMP profile {name!r} uses privacy {profile.priv_protocol.value}, which needs the Python "
            "package 'cryptography' (pysnmp does not install it): pip install cryptography"
        )
    kwargs: dict[str, Any] = {}
    if profile.auth_protocol is not None:
        kwargs["authKey"] = need("auth_key")
        kwargs["authProtocol"] = _AUTH[profile.auth_protocol]
    if profile.priv_protocol is not None:
        kwargs["privKey"] = need("priv_key")
        kwargs["privProtocol"] = _PRIV[profile.priv_protocol]
    assert profile.user is not None  # the profile's validator guarantees it
    return ResolvedProfile(
        name,
        profile,
        hauth.UsmUserData(profile.user, **kwargs),
        auth_pass=str(kwargs.get("authKey", "")).encode("utf-8"),
        priv_pass=str(kwargs.get("privKey", "")).encode("utf-8"),
    )
