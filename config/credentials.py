"""Credential profiles, kept apart from the inventory (as snmp_exporter keeps ``auths``
apart from ``modules``): the inventory says *which* profile a device uses, this file
says what the profile is. Every secret is a :class:`~config.secrets.SecretRef`."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from netmon.config.secrets import SecretRef


class AuthProtocol(StrEnum):
    """SNMPv3 USM authentication protocols."""

    MD5 = "MD5"
    SHA = "SHA"
    SHA224 = "SHA-224"
    SHA256 = "SHA-256"
    SHA384 = "SHA-384"
    SHA512 = "SHA-512"


class PrivProtocol(StrEnum):
    """SNMPv3 USM privacy protocols."""

    DES = "DES"
    DES3 = "3DES"
    AES128 = "AES-128"
    AES192 = "AES-192"
    AES256 = "AES-256"


#: Algorithms a strict security policy refuses.
WEAK_AUTH = frozenset({AuthProtocol.MD5})
WEAK_PRIV = frozenset({PrivProtocol.DES, PrivProtocol.DES3})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SnmpProfile(_Strict):
    """How to speak SNMP to a device.

    v1/v2c take a ``community``; v3 takes ``user`` and optionally ``auth_protocol`` +
    ``auth_key`` and ``priv_protocol`` + ``priv_key`` (privacy needs authentication).
    """

    version: Literal["1", "2c", "3"]
    community: SecretRef | None = None
    user: str | None = None
    auth_protocol: AuthProtocol | None = None
    auth_key: SecretRef | None = None
    priv_protocol: PrivProtocol | None = None
    priv_key: SecretRef | None = None
    context: str = ""
    port: int = Field(default=161, ge=1, le=65535)
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=10)
    max_repetitions: int = Field(default=25, ge=1, le=200)

    @field_validator("version", mode="before")
    @classmethod
    def _version_str(cls, v: object) -> object:
        # YAML reads `version: 3` as an int and `version: 2c` as a string.
        return str(v) if isinstance(v, int) else v

    @model_validator(mode="after")
    def _rules(self) -> SnmpProfile:
        if self.version in ("1", "2c"):
            if self.community is None:
                raise ValueError(f"SNMP v{self.version} needs a community")
            if self.user or self.auth_protocol or self.priv_protocol:
                raise ValueError(f"SNMP v{self.version} takes no user, auth or priv settings")
        else:
            if not self.user:
                raise ValueError("SNMPv3 needs a user")
            if self.community is not None:
                raise ValueError("SNMPv3 takes no community")
            if (self.auth_protocol is None) != (self.auth_key is None):
                raise ValueError("auth_protocol and auth_key go together")
            if (self.priv_protocol is None) != (self.priv_key is None):
                raise ValueError("priv_protocol and priv_key go together")
            if self.priv_protocol is not None and self.auth_protocol is None:
                raise ValueError("SNMPv3 privacy needs authentication (authPriv)")
        return self

    @property
    def security_level(self) -> str:
        """``noAuthNoPriv``, ``authNoPriv`` or ``authPriv`` (v3), or ``community``."""
        if self.version != "3":
            return "community"
        if self.priv_protocol is not None:
            return "authPriv"
        return "authNoPriv" if self.auth_protocol is not None else "noAuthNoPriv"

    def weaknesses(self) -> list[str]:
        """What a strict policy objects to in this profile, in words."""
        out: list[str] = []
        if self.version != "3":
            out.append(f"SNMP v{self.version} sends the community in clear text")
        else:
            if self.auth_protocol is None:
                out.append("SNMPv3 without authentication")
            elif self.auth_protocol in WEAK_AUTH:
                out.append(f"weak authentication {self.auth_protocol.value}")
            if self.priv_protocol is None:
                out.append("SNMPv3 without privacy")
            elif self.priv_protocol in WEAK_PRIV:
                out.append(f"weak privacy {self.priv_protocol.value}")
        return out


class MqttCredential(_Strict):
    """A username and password for the broker."""

    username: str = Field(min_length=1)
    password: SecretRef


class Credentials(_Strict):
    """The credentials file: SNMP profiles and MQTT logins by name."""

    snmp: dict[str, SnmpProfile] = Field(default_factory=dict)
    mqtt: dict[str, MqttCredential] = Field(default_factory=dict)
