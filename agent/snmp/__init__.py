"""SNMP for the agent: a BER codec and SNMPv3 USM of its own, pysnmp where they stop.

Modules, by concept:

* :mod:`~netmon.agent.snmp.codec`: SNMP message layouts over :mod:`netmon.agent.ber`
  (requests, responses, v1/v2c traps and informs), values as plain Python objects;
* :mod:`~netmon.agent.snmp.usm`: SNMPv3 messages with USM (RFC 3412/3414, RFC 7860
  SHA-2, RFC 3826 AES): keys, digests, privacy, the time window, :class:`UsmError`;
* :mod:`~netmon.agent.snmp.tables`: the OIDs read and how var-binds become checked values;
* :mod:`~netmon.agent.snmp.client`: :class:`SnmpClient`, one device poll (system group
  and interface walk); :mod:`~netmon.agent.snmp.transport`: its UDP socket;
* :mod:`~netmon.agent.snmp.pysnmp_path`: pysnmp 7 for DES/3DES privacy or on request;
* :mod:`~netmon.agent.snmp.profile`, :mod:`~netmon.agent.snmp.result`: credentials with
  their secrets read, and the outcomes returned.

Why the agent has its own codec (costs measured on the project's build machine, CPU-s
per 1,000 device polls, system group + 15 interface columns, snmpd on loopback): pysnmp
decodes with pyasn1, which was ~75 % of the agent's CPU: 8.1 (v2c) and 10.6 (v3 authPriv)
against snmp_exporter's 1.8 and 2.6; with the codec here, 0.27 and 0.51 (BENCHMARKS.md
has the current figures).

The names other packages use are re-exported here: ``from netmon.agent.snmp import
SnmpClient`` keeps working whatever module a name lives in.
"""

from __future__ import annotations

from netmon.agent.ber import BerError, Oid, read_tlv
from netmon.agent.snmp.client import MAX_WALK_PDUS, SnmpClient
from netmon.agent.snmp.codec import (
    END_OF_MIB_VIEW,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    NULL,
    PDU_BULK,
    PDU_GET,
    PDU_INFORM,
    PDU_NEXT,
    PDU_REPORT,
    PDU_RESPONSE,
    PDU_TRAP,
    PDU_TRAP_V1,
    Notification,
    Value,
    decode_community_notification,
    decode_response,
    encode_request,
)
from netmon.agent.snmp.profile import ResolvedProfile, SnmpConfigError, resolve_profile
from netmon.agent.snmp.pysnmp_path import classify
from netmon.agent.snmp.result import SnmpResult
from netmon.agent.snmp.tables import (
    HR_SYSTEM_UPTIME,
    IF_COLUMNS,
    IF_NUMBER,
    SNMP_ENGINE_BOOTS,
    SNMP_ENGINE_TIME,
    SYS_DESCR,
    SYS_NAME,
    SYS_OBJECT_ID,
    SYS_UPTIME,
    SYSTEM_OIDS,
)
from netmon.agent.snmp.transport import RCVBUF_BYTES
from netmon.agent.snmp.usm import (
    LocalEngine,
    RemoteEngine,
    UserKeys,
    UsmError,
    UsmFailure,
    encode_v3,
    localized_key,
    open_v3,
    parse_v3,
    password_key,
    user_keys,
    v3_msg_id,
)

__all__ = [
    "END_OF_MIB_VIEW",
    "HR_SYSTEM_UPTIME",
    "IF_COLUMNS",
    "IF_NUMBER",
    "MAX_WALK_PDUS",
    "NO_SUCH_INSTANCE",
    "NO_SUCH_OBJECT",
    "NULL",
    "PDU_BULK",
    "PDU_GET",
    "PDU_INFORM",
    "PDU_NEXT",
    "PDU_REPORT",
    "PDU_RESPONSE",
    "PDU_TRAP",
    "PDU_TRAP_V1",
    "RCVBUF_BYTES",
    "SNMP_ENGINE_BOOTS",
    "SNMP_ENGINE_TIME",
    "SYSTEM_OIDS",
    "SYS_DESCR",
    "SYS_NAME",
    "SYS_OBJECT_ID",
    "SYS_UPTIME",
    "BerError",
    "LocalEngine",
    "Notification",
    "Oid",
    "RemoteEngine",
    "ResolvedProfile",
    "SnmpClient",
    "SnmpConfigError",
    "SnmpResult",
    "UserKeys",
    "UsmError",
    "UsmFailure",
    "Value",
    "classify",
    "decode_community_notification",
    "decode_response",
    "encode_request",
    "encode_v3",
    "localized_key",
    "open_v3",
    "parse_v3",
    "password_key",
    "read_tlv",
    "resolve_profile",
    "user_keys",
    "v3_msg_id",
]
