"""SNMPv3 messages with the User-based Security Model (RFC 3412, RFC 3414), HMAC-SHA-2
authentication (RFC 7860) and AES privacy (RFC 3826; 192/256-bit keys extended as
Blumenthal's draft and net-snmp do).

What is implemented, on both sides of a conversation:

* password to key and key localisation (RFC 3414 A.2), HMAC-MD5-96, HMAC-SHA-96 and
  HMAC-SHA-2 with RFC 7860's truncations, AES-CFB128 with the 64-bit salt of RFC 3826;
* :func:`parse_v3` checks what RFC 3412 7.2 asks of every incoming message before any
  cryptography: msgVersion 3, msgMaxSize within 484..2^31-1, a privFlag never without
  the authFlag, msgSecurityModel 3 (USM), and the USM parameters' sizes (engine ID and
  user name at most 32 octets); :func:`open_v3` then checks the digest, decrypts and
  decodes the scoped PDU, refusing a PDU type the caller does not expect and a
  response below the security level the caller asked for (a forged reply with the
  authFlag cleared must not skip the MAC check);
* the time window of RFC 3414 3.2 step 7: :class:`RemoteEngine` for messages from an
  authoritative engine (a device answering our requests, or sending us traps: its
  boots/time are learnt only from authentic messages and never go back, and a message
  older than 150 s of the latest is refused), :class:`LocalEngine` for messages to us
  (informs: we are authoritative for them);
* every refusal is a :class:`UsmFailure` whose :class:`UsmError` names the RFC counter
  (``usmStatsWrongDigests``, ``usmStatsNotInTimeWindows``, ``snmpInvalidMsgs``, ...),
  never a string to be parsed, and whose ``reason`` is the agent's short failure code.

DES and 3DES are not implemented here: profiles that use them go through pysnmp (see
:mod:`netmon.agent.snmp.pysnmp_path`), which applies its own USM.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from netmon.agent.ber import BerError, Oid, encode_integer, encode_length, read_integer, read_tlv, tlv
from netmon.agent.snmp.codec import PDU_REPORT, PDU_RESPONSE, STRICT, Pdu, decode_pdu, expect
from netmon.config.credentials import AuthProtocol, PrivProtocol


class UsmError(StrEnum):
    """Why an SNMPv3 message failed, named by the RFC 3412/3414 counter that counts it."""

    UNSUPPORTED_SEC_LEVELS = "usmStatsUnsupportedSecLevels"
    NOT_IN_TIME_WINDOWS = "usmStatsNotInTimeWindows"
    UNKNOWN_USER_NAMES = "usmStatsUnknownUserNames"
    UNKNOWN_ENGINE_IDS = "usmStatsUnknownEngineIDs"
    WRONG_DIGESTS = "usmStatsWrongDigests"
    DECRYPTION_ERRORS = "usmStatsDecryptionErrors"
    UNKNOWN_SECURITY_MODELS = "snmpUnknownSecurityModels"
    INVALID_MSGS = "snmpInvalidMsgs"
    UNKNOWN_PDU_HANDLERS = "snmpUnknownPDUHandlers"

    @property
    def reason(self) -> str:
        """The agent's short failure code of a poll that ended on this error."""
        return _REASONS[self]

    @property
    def oid(self) -> Oid:
        """The counter's instance OID, as a Report PDU names it."""
        return _OIDS[self]


_REASONS = {
    UsmError.UNSUPPORTED_SEC_LEVELS: "security_level",
    UsmError.NOT_IN_TIME_WINDOWS: "not_in_time_window",
    UsmError.UNKNOWN_USER_NAMES: "unknown_user",
    UsmError.UNKNOWN_ENGINE_IDS: "unknown_engine",
    UsmError.WRONG_DIGESTS: "auth",
    UsmError.DECRYPTION_ERRORS: "decrypt",
    UsmError.UNKNOWN_SECURITY_MODELS: "security_model",
    UsmError.INVALID_MSGS: "malformed",
    UsmError.UNKNOWN_PDU_HANDLERS: "report",
}
_USM_STATS = (1, 3, 6, 1, 6, 3, 15, 1, 1)
_MPD_STATS = (1, 3, 6, 1, 6, 3, 11, 2, 1)
_OIDS: dict[UsmError, Oid] = {
    UsmError.UNSUPPORTED_SEC_LEVELS: (*_USM_STATS, 1, 0),
    UsmError.NOT_IN_TIME_WINDOWS: (*_USM_STATS, 2, 0),
    UsmError.UNKNOWN_USER_NAMES: (*_USM_STATS, 3, 0),
    UsmError.UNKNOWN_ENGINE_IDS: (*_USM_STATS, 4, 0),
    UsmError.WRONG_DIGESTS: (*_USM_STATS, 5, 0),
    UsmError.DECRYPTION_ERRORS: (*_USM_STATS, 6, 0),
    UsmError.UNKNOWN_SECURITY_MODELS: (*_MPD_STATS, 1, 0),
    UsmError.INVALID_MSGS: (*_MPD_STATS, 2, 0),
    UsmError.UNKNOWN_PDU_HANDLERS: (*_MPD_STATS, 3, 0),
}
#: A Report PDU's first var-bind -> the error it reports.
REPORTS: Final[dict[Oid, UsmError]] = {oid: err for err, oid in _OIDS.items()}


class UsmFailure(BerError):
    """A message refused by a USM or message-processing check.

    Attributes:
        error: Which check refused it.
    """

    def __init__(self, error: UsmError, detail: str = "") -> None:
        self.error = error
        super().__init__(f"{error.value}: {detail}" if detail else error.value)


# --- keys and digests --------------------------------------------------------------------

HASHES: Final[dict[AuthProtocol, Any]] = {
    AuthProtocol.MD5: hashlib.md5,
    AuthProtocol.SHA: hashlib.sha1,
    AuthProtocol.SHA224: hashlib.sha224,
    AuthProtocol.SHA256: hashlib.sha256,
    AuthProtocol.SHA384: hashlib.sha384,
    AuthProtocol.SHA512: hashlib.sha512,
}
#: Truncated HMAC length (RFC 3414: 12 octets; RFC 7860 for SHA-2).
MAC_LEN: Final = {
    AuthProtocol.MD5: 12,
    AuthProtocol.SHA: 12,
    AuthProtocol.SHA224: 16,
    AuthProtocol.SHA256: 24,
    AuthProtocol.SHA384: 32,
    AuthProtocol.SHA512: 48,
}
AES_KEY_LEN: Final = {PrivProtocol.AES128: 16, PrivProtocol.AES192: 24, PrivProtocol.AES256: 32}
#: RFC 3412: msgMaxSize INTEGER (484..2147483647).
MIN_MSG_SIZE = 484
MAX_INT32 = 2**31 - 1
MSG_MAX_SIZE = 65507
#: RFC 3414 3.2 step 7: how far a message's engine time may lag the receiver's notion.
TIME_WINDOW_S = 150
#: RFC 3411 SnmpEngineID: 5..32 octets.
ENGINE_ID_MIN, ENGINE_ID_MAX = 5, 32


@functools.lru_cache(maxsize=256)
def password_key(password: bytes, auth: AuthProtocol) -> bytes:
    """Ku: the hash of 1 MiB of the password repeated (RFC 3414 A.2); ~2 ms, so cached."""
    if not password:
        raise ValueError("empty SNMPv3 password")
    n = 1 << 20
    return bytes(HASHES[auth]((password * (n // len(password) + 1))[:n]).digest())


def localized_key(password: bytes, auth: AuthProtocol, engine_id: bytes, size: int = 0) -> bytes:
    """Kul = H(Ku | engineID | Ku), extended to ``size`` by hashing (Blumenthal), if asked."""
    ku = password_key(password, auth)
    h = HASHES[auth]
    key = bytes(h(ku + engine_id + ku).digest())
    while size and len(key) < size:
        key += h(key).digest()
    return key[:size] if size else key


def digest(auth: AuthProtocol, key: bytes, message: bytes) -> bytes:
    """The truncated HMAC of ``message`` under ``key`` (msgAuthenticationParameters)."""
    return hmac.new(key, message, HASHES[auth]).digest()[: MAC_LEN[auth]]


def _aes(key: bytes, iv: bytes) -> Any:
    # Imported here: only profiles with privacy need cryptography (checked at build time).
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    try:  # CFB moved to "decrepit" in cryptography 47; SNMP's AES is CFB128 all the same
        from cryptography.hazmat.decrepit.ciphers.modes import CFB
    except ImportError:
        from cryptography.hazmat.primitives.ciphers.modes import CFB

    return Cipher(algorithms.AES(key), CFB(iv))


@dataclass(frozen=True, slots=True)
class UserKeys:
    """One user's protocols and keys localized to one engine ID."""

    auth: AuthProtocol | None = None
    priv: PrivProtocol | None = None
    auth_key: bytes = field(default=b"", repr=False)
    priv_key: bytes = field(default=b"", repr=False)


def user_keys(
    auth: AuthProtocol | None, priv: PrivProtocol | None, auth_pass: bytes, priv_pass: bytes, engine_id: bytes
) -> UserKeys:
    """Keys of a user localized to ``engine_id`` (privacy keys sized for the AES variant)."""
    if auth is None:
        return UserKeys()
    auth_key = localized_key(auth_pass, auth, engine_id)
    priv_key = b""
    if priv is not None:
        priv_key = localized_key(priv_pass, auth, engine_id, AES_KEY_LEN[priv])
    return UserKeys(auth, priv, auth_key, priv_key)


# --- engine time (RFC 3414 2.2, 3.2 step 7) ----------------------------------------------


@dataclass
class RemoteEngine:
    """What we know of an authoritative engine we are not (a polled device, a trap sender).

    ``boots``/``time`` are its snmpEngineBoots and snmpEngineTime as of our monotonic
    ``at``; ``latest`` is latestReceivedEngineTime. Only :meth:`check` changes them, and
    only for an authentic message.
    """

    engine_id: bytes = b""
    boots: int = 0
    time: int = 0
    latest: int = 0
    at: float = 0.0
    synced: bool = False
    keys: UserKeys = field(default_factory=UserKeys)

    def now(self, mono: float) -> int:
        """Its engine time now, by our clock (0 before the first authentic message)."""
        return self.time + int(mono - self.at) if self.synced else 0

    def outgoing(self, mono: float) -> tuple[int, int]:
        """``(boots, time)`` to put in a message to it (zeros before time synchronisation)."""
        return (self.boots, self.now(mono)) if self.synced else (0, 0)

    def check(self, boots: int, engine_time: int, mono: float) -> UsmError | None:
        """RFC 3414 3.2 step 7b for an authentic message from this engine.

        Our notion advances when the message is newer (more boots, or the same boots and
        a later time than any received); then the message is out of the time window if
        the engine has run out of boots, if its boots are older than ours, or if its
        time lags our notion by more than 150 s (a replay).
        """
        if boots > self.boots or (boots == self.boots and (engine_time > self.latest or not self.synced)):
            self.boots, self.time, self.latest, self.at, self.synced = boots, engine_time, engine_time, mono, True
        if (
            self.boots >= MAX_INT32
            or boots < self.boots
            or (boots == self.boots and engine_time < self.now(mono) - TIME_WINDOW_S)
        ):
            return UsmError.NOT_IN_TIME_WINDOWS
        return None

    def forget(self) -> None:
        """Back to "never heard of": rediscovery follows (a new engine ID, or a resync)."""
        self.engine_id, self.boots, self.time, self.latest, self.at, self.synced = b"", 0, 0, 0, 0.0, False
        self.keys = UserKeys()


@dataclass
class LocalEngine:
    """Our own engine, authoritative for the informs sent to us (RFC 3414 2.2).

    Args:
        engine_id: Our snmpEngineID (5..32 octets).
        boots: snmpEngineBoots; it must grow at every start (see the trap receiver).
        started: Our monotonic clock at start (snmpEngineTime counts from it).
    """

    engine_id: bytes
    boots: int
    started: float

    def time(self, mono: float) -> int:
        """snmpEngineTime: whole seconds since start."""
        return int(mono - self.started)

    def check(self, boots: int, engine_time: int, mono: float) -> UsmError | None:
        """RFC 3414 3.2 step 7a: a message to us must carry our boots and a time within 150 s."""
        if self.boots >= MAX_INT32 or boots != self.boots or abs(engine_time - self.time(mono)) > TIME_WINDOW_S:
            return UsmError.NOT_IN_TIME_WINDOWS
        return None


# --- messages ----------------------------------------------------------------------------

FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE = 0x01, 0x02, 0x04


def encode_v3(
    *,
    msg_id: int,
    engine_id: bytes,
    boots: int,
    engine_time: int,
    user: bytes,
    keys: UserKeys,
    context_engine_id: bytes | None = None,
    context: bytes,
    pdu: bytes,
    salt: int = 0,
    reportable: bool = True,
) -> bytes:
    """An SNMPv3 USM message carrying ``pdu`` (already BER), authenticated/encrypted as
    ``keys`` say (their protocols, if any, set the security level).

    ``reportable`` is set for requests and clear for responses and reports (RFC 3412 6.4).
    """
    auth, priv = keys.auth, keys.priv
    flags = (FLAG_REPORTABLE if reportable else 0) | (FLAG_AUTH if auth else 0) | (FLAG_PRIV if priv else 0)
    ctx_engine = engine_id if context_engine_id is None else context_engine_id
    scoped = tlv(0x30, tlv(0x04, ctx_engine) + tlv(0x04, context) + pdu)
    priv_params = b""
    if priv is not None:
        priv_params = salt.to_bytes(8, "big")
        enc = _aes(keys.priv_key, boots.to_bytes(4, "big") + engine_time.to_bytes(4, "big") + priv_params).encryptor()
        msg_data = tlv(0x04, enc.update(scoped) + enc.finalize())
    else:
        msg_data = scoped
    mac_len = MAC_LEN[auth] if auth is not None else 0
    before_mac = tlv(0x04, engine_id) + encode_integer(boots) + encode_integer(engine_time) + tlv(0x04, user)
    mac_head = bytes((0x04,)) + encode_length(mac_len)
    sec_body = before_mac + mac_head + bytes(mac_len) + tlv(0x04, priv_params)
    sec_seq = tlv(0x30, sec_body)
    sec = tlv(0x04, sec_seq)
    header = tlv(
        0x30, encode_integer(msg_id) + encode_integer(MSG_MAX_SIZE) + tlv(0x04, bytes((flags,))) + encode_integer(3)
    )
    head = encode_integer(3) + header
    body = head + sec + msg_data
    whole = tlv(0x30, body)
    if auth is None:
        return whole
    # Where the zeroed MAC sits: outer header, version+header, the two TLV headers of
    # the security parameters, the fields before the MAC, the MAC's own TLV header.
    at = (len(whole) - len(body)) + len(head) + (len(sec) - len(sec_seq)) + (len(sec_seq) - len(sec_body))
    at += len(before_mac) + len(mac_head)
    return whole[:at] + digest(auth, keys.auth_key, whole) + whole[at + mac_len :]


def _header(buf: bytes) -> tuple[int, int, int]:
    """``(header start, header end, message end)`` of an SNMPv3 message."""
    s, end = expect(buf, 0, len(buf), 0x30, "message")
    version, pos = read_integer(buf, s, end)
    if version != 3:
        raise BerError(f"msgVersion {version}, not 3")
    hs, he = expect(buf, pos, end, 0x30, "header")
    return hs, he, end


def v3_msg_id(buf: bytes) -> int:
    """The msgID of an SNMPv3 message (to find its request); raises BerError."""
    hs, he, _end = _header(buf)
    return read_integer(buf, hs, he)[0]


@dataclass(frozen=True, slots=True)
class Envelope:
    """An SNMPv3 message's header and USM parameters, checked, before any cryptography.

    Attributes:
        msg_id: msgID.
        flags: msgFlags.
        engine_id: msgAuthoritativeEngineID.
        boots: msgAuthoritativeEngineBoots.
        time: msgAuthoritativeEngineTime.
        user: msgUserName.
        mac: Where msgAuthenticationParameters' content is (start, end).
        salt: msgPrivacyParameters.
        data: Where msgData is (start of its TLV, end of the message).
    """

    msg_id: int
    flags: int
    engine_id: bytes
    boots: int
    time: int
    user: bytes
    mac: tuple[int, int]
    salt: bytes
    data: tuple[int, int]

    @property
    def authenticated(self) -> bool:
        """Whether the authFlag is set."""
        return bool(self.flags & FLAG_AUTH)

    @property
    def encrypted(self) -> bool:
        """Whether the privFlag is set."""
        return bool(self.flags & FLAG_PRIV)


def parse_v3(buf: bytes) -> Envelope:
    """Check an SNMPv3 message's header and USM parameters (RFC 3412 7.2, RFC 3414 3.2 1-2).

    Raises:
        UsmFailure: An invalid flag combination, msgID or msgMaxSize (``snmpInvalidMsgs``),
            or another security model (``snmpUnknownSecurityModels``).
        BerError: Anything else malformed, msgVersion other than 3 included.
    """
    with STRICT:
        hs, pos, end = _header(buf)
        msg_id, p = read_integer(buf, hs, pos)
        max_size, p = read_integer(buf, p, pos)
        fs, fe = expect(buf, p, pos, 0x04, "msgFlags")
        if fe - fs != 1:
            raise UsmFailure(UsmError.INVALID_MSGS, "msgFlags is not one octet")
        flags = buf[fs]
        model, _p = read_integer(buf, fe, pos)
        if not 0 <= msg_id <= MAX_INT32 or not MIN_MSG_SIZE <= max_size <= MAX_INT32:
            raise UsmFailure(UsmError.INVALID_MSGS, f"msgID {msg_id} or msgMaxSize {max_size} out of range")
        if flags & FLAG_PRIV and not flags & FLAG_AUTH:
            raise UsmFailure(UsmError.INVALID_MSGS, "privFlag without authFlag")
        if model != 3:
            raise UsmFailure(UsmError.UNKNOWN_SECURITY_MODELS, f"msgSecurityModel {model}")
        ss, data_start = expect(buf, pos, end, 0x04, "msgSecurityParameters")
        p, se = expect(buf, ss, data_start, 0x30, "UsmSecurityParameters")
        es, ee = expect(buf, p, se, 0x04, "msgAuthoritativeEngineID")
        boots, p = read_integer(buf, ee, se)
        etime, p = read_integer(buf, p, se)
        us, ue = expect(buf, p, se, 0x04, "msgUserName")
        ms, me = expect(buf, ue, se, 0x04, "msgAuthenticationParameters")
        ps, pe = expect(buf, me, se, 0x04, "msgPrivacyParameters")
        if ee - es > ENGINE_ID_MAX or ue - us > 32:
            raise BerError("msgAuthoritativeEngineID or msgUserName longer than 32 octets")
        if not (0 <= boots <= MAX_INT32 and 0 <= etime <= MAX_INT32):
            raise BerError("engine boots or time out of range")
        return Envelope(msg_id, flags, buf[es:ee], boots, etime, buf[us:ue], (ms, me), buf[ps:pe], (data_start, end))


@dataclass(frozen=True, slots=True)
class ScopedPdu:
    """The opened content of an SNMPv3 message."""

    context_engine_id: bytes
    context: bytes
    pdu: Pdu


def verify(buf: bytes, env: Envelope, keys: UserKeys) -> None:
    """Check the message's digest (RFC 3414 3.2 step 6).

    Raises:
        UsmFailure: ``usmStatsUnsupportedSecLevels`` when it is authenticated and the user
            has no authentication; ``usmStatsWrongDigests`` when the digest is wrong.
    """
    if not env.authenticated:
        return
    if keys.auth is None:
        raise UsmFailure(UsmError.UNSUPPORTED_SEC_LEVELS, "authenticated message for a user without authentication")
    ms, me = env.mac
    if me - ms != MAC_LEN[keys.auth]:
        raise UsmFailure(UsmError.WRONG_DIGESTS, "digest of the wrong length")
    zeroed = buf[:ms] + bytes(me - ms) + buf[me:]
    if not hmac.compare_digest(digest(keys.auth, keys.auth_key, zeroed), buf[ms:me]):
        raise UsmFailure(UsmError.WRONG_DIGESTS)


def open_v3(buf: bytes, env: Envelope, keys: UserKeys, tags: tuple[int, ...], *, checked: bool = False) -> ScopedPdu:
    """Verify (unless ``checked``), decrypt and decode an SNMPv3 message's scoped PDU.

    Args:
        buf: The message.
        env: Its :func:`parse_v3` envelope.
        keys: The user's keys, localized to ``env.engine_id``.
        tags: PDU types the caller accepts.
        checked: :func:`verify` was called already.

    Raises:
        UsmFailure: Wrong digest, decryption error, or a security level other than
            ``keys`` (only a Report may come at a lower level: RFC 3414 discovery and
            error reports are unauthenticated).
        BerError: Anything else malformed, or a PDU type not in ``tags``.
    """
    with STRICT:
        if not checked:
            verify(buf, env, keys)
        ds, end = env.data
        if env.encrypted:
            scoped, s2, e2 = _decrypt(buf, env, keys)
        else:
            scoped = buf
            s2, e2 = expect(buf, ds, end, 0x30, "scoped PDU")
        c1s, c1e = expect(scoped, s2, e2, 0x04, "contextEngineID")
        c2s, p = expect(scoped, c1e, e2, 0x04, "contextName")
        pdu = decode_pdu(scoped, p, e2, tags)
        # A message must come at the security level asked for: without this, a forged
        # response with the authFlag cleared would skip the MAC check (a downgrade).
        # Only reports may come lower (RFC 3414 discovery and error reports).
        if pdu.tag != PDU_REPORT and (
            (keys.auth is not None and not env.authenticated) or (keys.priv is not None and not env.encrypted)
        ):
            raise UsmFailure(UsmError.UNSUPPORTED_SEC_LEVELS, "message below the user's security level")
        return ScopedPdu(scoped[c1s:c1e], scoped[c2s:p], pdu)


def _decrypt(buf: bytes, env: Envelope, keys: UserKeys) -> tuple[bytes, int, int]:
    """The decrypted scoped PDU and its content's bounds (RFC 3826 3.1.4)."""
    if keys.priv is None:
        raise UsmFailure(UsmError.UNSUPPORTED_SEC_LEVELS, "encrypted message for a user without privacy")
    if len(env.salt) != 8:
        raise UsmFailure(UsmError.DECRYPTION_ERRORS, "msgPrivacyParameters is not 8 octets")
    ds, end = env.data
    tag, cs, ce = read_tlv(buf, ds, end)
    if tag != 0x04:
        raise UsmFailure(UsmError.DECRYPTION_ERRORS, "encrypted PDU is not an OCTET STRING")
    iv = env.boots.to_bytes(4, "big") + env.time.to_bytes(4, "big") + env.salt
    dec = _aes(keys.priv_key, iv).decryptor()
    scoped = dec.update(buf[cs:ce]) + dec.finalize()
    try:
        tag, s2, e2 = read_tlv(scoped, 0, len(scoped))  # trailing padding is allowed
    except BerError:
        tag = -1
    if tag != 0x30:
        raise UsmFailure(UsmError.DECRYPTION_ERRORS, "decrypted data is not a scoped PDU")
    return scoped, s2, e2


def report_error(pdu: Pdu) -> UsmError | None:
    """The error a Report PDU reports (its first var-bind), if it is one we know."""
    if pdu.tag != PDU_REPORT or not pdu.varbinds:
        return None
    return REPORTS.get(pdu.varbinds[0][0])


def is_response(pdu: Pdu) -> bool:
    """Whether a PDU answers a request (Response) rather than reports an error."""
    return pdu.tag == PDU_RESPONSE
