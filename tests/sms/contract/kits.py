"""Per-vendor webhook kits: callbacks in each vendor's shape, signed by each vendor's scheme.

The signers are written from the vendors' documentation, independently of the adapters (a
test that signs with the code under test cannot catch a misreading of the scheme). Signing is
deterministic for a given URL, body and :class:`Stamp`, so "is this request authentic?" is a
plain comparison with what the vendor would have sent (the fuzzer relies on that).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from asterisk_textback.sms.base import WebhookAdapter, WebhookRequest
from asterisk_textback.sms.vendors.bandwidth import BandwidthWebhook
from asterisk_textback.sms.vendors.plivo import PlivoWebhook
from asterisk_textback.sms.vendors.signalwire import SignalWireWebhook
from asterisk_textback.sms.vendors.telnyx import TelnyxWebhook
from asterisk_textback.sms.vendors.twilio import TwilioWebhook
from asterisk_textback.sms.vendors.vonage import VonageSettings, VonageWebhook
from tests.sms.fake_plivo import sdk_signature
from tests.sms.fake_telnyx import public_key_b64, signed_headers

ISO = "2023-11-14T22:13:20.000Z"


@dataclass(frozen=True, slots=True)
class Stamp:
    """What, besides URL and body, goes into a signature: a time and a nonce."""

    at: int
    nonce: str = "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5"


def _digits(e164: str) -> str:
    return e164.removeprefix("+")


class Kit(ABC):
    """Builds one vendor's callbacks and signs them as the vendor does."""

    name: str
    adapter: WebhookAdapter
    content_type = "application/json"
    #: Lower-cased headers carrying the credentials or signature.
    credential_headers: tuple[str, ...]
    #: False when the scheme does not cover the body (and why, naming the vendor's doc).
    covers_body = True
    body_reason = ""
    covers_url = False
    #: Seconds a signed timestamp stays valid (0: the scheme has no timestamp).
    tolerance = 0.0

    @abstractmethod
    def inbound(self, message_id: str, sender: str, to: str, text: str) -> bytes:
        """An inbound text callback."""

    @abstractmethod
    def delivered(self, message_id: str) -> bytes:
        """A delivery report saying ``message_id`` reached the handset."""

    @abstractmethod
    def failed(self, message_id: str, code: str) -> bytes:
        """A delivery report saying ``message_id`` failed with the vendor's error ``code``."""

    @abstractmethod
    def sign(self, url: str, body: bytes, stamp: Stamp, *, wrong: bool = False) -> dict[str, str]:
        """The credential headers the vendor sends (``wrong``: as signed with another key)."""

    def request(
        self, url: str, body: bytes, stamp: Stamp, *, wrong: bool = False
    ) -> WebhookRequest:
        """A complete signed callback."""
        headers = {"content-type": self.content_type, **self.sign(url, body, stamp, wrong=wrong)}
        return WebhookRequest("POST", url, headers, body)


class TwilioKit(Kit):
    """Twilio: form body, base64 HMAC-SHA1 over URL + sorted params, auth token as key."""

    name = "twilio"
    content_type = "application/x-www-form-urlencoded"
    credential_headers = ("x-twilio-signature",)
    covers_url = True
    key = "12345abcde12345abcde12345abcde12"

    def __init__(self) -> None:
        self.adapter = self._adapter()

    def _adapter(self) -> WebhookAdapter:
        return TwilioWebhook(self.key)

    def inbound(self, message_id: str, sender: str, to: str, text: str) -> bytes:
        """Twilio's incoming-message request parameters."""
        fields = {"MessageSid": message_id, "SmsSid": message_id, "AccountSid": "AC" + "0" * 32}
        fields |= {"From": sender, "To": to, "Body": text, "NumMedia": "0", "NumSegments": "1"}
        fields |= {"SmsStatus": "received", "ApiVersion": "2010-04-01"}
        return urlencode(fields).encode()

    def _status(self, message_id: str, status: str, code: str = "") -> bytes:
        fields = {"MessageSid": message_id, "SmsSid": message_id, "AccountSid": "AC" + "0" * 32}
        fields |= {"MessageStatus": status, "SmsStatus": status, "ApiVersion": "2010-04-01"}
        fields |= {"From": "+15550100001", "To": "+12125550147"}
        return urlencode(fields | ({"ErrorCode": code} if code else {})).encode()

    def delivered(self, message_id: str) -> bytes:
        """A ``delivered`` status callback."""
        return self._status(message_id, "delivered")

    def failed(self, message_id: str, code: str) -> bytes:
        """An ``undelivered`` status callback with ``ErrorCode``."""
        return self._status(message_id, "undelivered", code)

    def sign(self, url: str, body: bytes, stamp: Stamp, *, wrong: bool = False) -> dict[str, str]:
        """``X-Twilio-Signature`` per twilio.com/docs/usage/security."""
        params = sorted(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        payload = url + "".join(k + v for k, v in params)
        key = (self.key + "x") if wrong else self.key
        digest = hmac.new(key.encode(), payload.encode(), hashlib.sha1).digest()
        return {self.credential_headers[0]: base64.b64encode(digest).decode()}


class SignalWireKit(TwilioKit):
    """SignalWire: Twilio's scheme keyed with the project's Signing Key, its own header."""

    name = "signalwire"
    credential_headers = ("x-signalwire-signature",)
    key = "PSK_signing_key_0123456789abcdef"

    def _adapter(self) -> WebhookAdapter:
        return SignalWireWebhook(self.key)


class TelnyxKit(Kit):
    """Telnyx: JSON events, Ed25519 over ``timestamp|body``, 5-minute tolerance."""

    name = "telnyx"
    credential_headers = ("telnyx-signature-ed25519", "telnyx-timestamp")
    tolerance = 300.0

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.other = Ed25519PrivateKey.generate()
        self.adapter = TelnyxWebhook(public_key_b64(self.key), self.tolerance)

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        data = {"record_type": "event", "id": "4ee8c3a6-4995-4309-a3c6-38e3db9ea4be"}
        data |= {"event_type": kind, "occurred_at": ISO, "payload": payload}
        return json.dumps({"data": data, "meta": {"attempt": 1}}).encode()

    def inbound(self, message_id: str, sender: str, to: str, text: str) -> bytes:
        """A ``message.received`` event."""
        payload = {"record_type": "message", "direction": "inbound", "id": message_id}
        payload |= {"from": {"phone_number": sender}, "to": [{"phone_number": to}], "text": text}
        return self._event("message.received", payload | {"type": "SMS"})

    def _final(self, message_id: str, status: str, errors: list[dict[str, str]]) -> bytes:
        payload = {"record_type": "message", "direction": "outbound", "id": message_id}
        payload |= {"from": {"phone_number": "+15550100001"}, "type": "SMS", "errors": errors}
        payload |= {"to": [{"phone_number": "+12125550147", "status": status}]}
        return self._event("message.finalized", payload)

    def delivered(self, message_id: str) -> bytes:
        """A ``message.finalized`` event with status ``delivered``."""
        return self._final(message_id, "delivered", [])

    def failed(self, message_id: str, code: str) -> bytes:
        """A ``message.finalized`` event with status ``delivery_failed`` and the error code."""
        return self._final(message_id, "delivery_failed", [{"code": code, "title": "failed"}])

    def sign(self, url: str, body: bytes, stamp: Stamp, *, wrong: bool = False) -> dict[str, str]:
        """``telnyx-signature-ed25519`` and ``telnyx-timestamp``."""
        return signed_headers(self.other if wrong else self.key, body, stamp.at)


class PlivoKit(Kit):
    """Plivo: form body, V3 signature (HMAC-SHA256 over URL, params and nonce)."""

    name = "plivo"
    content_type = "application/x-www-form-urlencoded"
    credential_headers = ("x-plivo-signature-v3", "x-plivo-signature-v3-nonce")
    covers_url = True
    token = "MjA1NmE0ZGE0ZTRhNjU0ZTk4YzQ0YTc0YjgwYzI3"

    def __init__(self) -> None:
        self.adapter = PlivoWebhook(self.token)

    def inbound(self, message_id: str, sender: str, to: str, text: str) -> bytes:
        """Plivo's incoming-message parameters (numbers without '+')."""
        fields = {"From": _digits(sender), "To": _digits(to), "Text": text, "Type": "sms"}
        fields |= {"MessageUUID": message_id, "Units": "1", "TotalRate": "0"}
        return urlencode(fields).encode()

    def _status(self, message_id: str, status: str, code: str = "") -> bytes:
        fields = {"MessageUUID": message_id, "From": "15550100001", "To": "12125550147"}
        fields |= {"Type": "sms", "Status": status, "ErrorCode": code, "Units": "1"}
        return urlencode(fields | {"MessageTime": "2024-01-05 18:22:31.123456"}).encode()

    def delivered(self, message_id: str) -> bytes:
        """A ``delivered`` status callback."""
        return self._status(message_id, "delivered")

    def failed(self, message_id: str, code: str) -> bytes:
        """An ``undelivered`` status callback with ``ErrorCode``."""
        return self._status(message_id, "undelivered", code)

    def sign(self, url: str, body: bytes, stamp: Stamp, *, wrong: bool = False) -> dict[str, str]:
        """The V3 headers, signed as plivo-python's ``signature_v3`` does."""
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        token = self.token[::-1] if wrong else self.token
        signature = sdk_signature("POST", url, params, stamp.nonce, token)
        return {self.credential_headers[0]: signature, self.credential_headers[1]: stamp.nonce}


class VonageKit(Kit):
    """Vonage: JSON, HS256 JWT in ``Authorization: Bearer`` with a ``payload_hash`` claim."""

    name = "vonage"
    credential_headers = ("authorization",)
    tolerance = 300.0
    secret = "a-signature-secret-of-32-characters!"
    api_key = "abcd1234"

    def __init__(self) -> None:
        settings = VonageSettings(
            application_id="aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
            private_key_env="VONAGE_PRIVATE_KEY",
            signature_secret_env="VONAGE_SIGNATURE_SECRET",
            api_key=self.api_key,
            webhook_max_age_seconds=self.tolerance,
        )
        self.adapter = VonageWebhook(settings, self.secret)

    def inbound(self, message_id: str, sender: str, to: str, text: str) -> bytes:
        """An inbound-message webhook (numbers without '+')."""
        data = {"channel": "sms", "message_uuid": message_id, "message_type": "text"}
        data |= {"to": _digits(to), "from": _digits(sender), "text": text, "timestamp": ISO}
        return json.dumps(data).encode()

    def _status(self, message_id: str, status: str, error: dict[str, str] | None) -> bytes:
        data = {"message_uuid": message_id, "to": "12125550147", "from": "15550100001"}
        data |= {"timestamp": ISO, "status": status, "channel": "sms"}
        return json.dumps(data | ({"error": error} if error else {})).encode()

    def delivered(self, message_id: str) -> bytes:
        """A ``delivered`` status webhook."""
        return self._status(message_id, "delivered", None)

    def failed(self, message_id: str, code: str) -> bytes:
        """A ``rejected`` status webhook whose error type ends in ``#code``."""
        error = {"type": f"https://developer.vonage.com/api-errors/messages#{code}"}
        return self._status(message_id, "rejected", error | {"title": "rejected"})

    def sign(self, url: str, body: bytes, stamp: Stamp, *, wrong: bool = False) -> dict[str, str]:
        """A signed webhook's Bearer token (developer.vonage.com, signed webhooks)."""
        claims = {"iat": stamp.at, "jti": stamp.nonce, "iss": "Vonage", "api_key": self.api_key}
        claims["payload_hash"] = hashlib.sha256(body).hexdigest()
        secret = (self.secret + "x") if wrong else self.secret
        return {"authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}


class BandwidthKit(Kit):
    """Bandwidth: JSON arrays of events behind the application's callback basic auth."""

    name = "bandwidth"
    credential_headers = ("authorization",)
    covers_body = False
    body_reason = (
        "Bandwidth callbacks carry only HTTP basic auth, which does not cover the body "
        "(dev.bandwidth.com/docs/messaging/webhooks)"
    )
    user, password = "bw-hooks", "hook-pass"

    def __init__(self) -> None:
        self.adapter = BandwidthWebhook(self.user, self.password)

    def _message(self, message_id: str, direction: str, sender: str, to: str) -> dict[str, Any]:
        return {
            "id": message_id,
            "owner": to if direction == "in" else sender,
            "applicationId": "93de2206-9669-4e07-948d-329f4b722ee2",
            "time": ISO,
            "segmentCount": 1,
            "direction": direction,
            "to": [to],
            "from": sender,
        }

    def inbound(self, message_id: str, sender: str, to: str, text: str) -> bytes:
        """A ``message-received`` event."""
        message = self._message(message_id, "in", sender, to) | {"text": text}
        event = {"type": "message-received", "time": ISO, "to": to, "message": message}
        return json.dumps([event | {"description": "Incoming message received"}]).encode()

    def _out(self, kind: str, message_id: str, **extra: Any) -> bytes:
        message = self._message(message_id, "out", "+15550100001", "+12125550147")
        event = {"type": kind, "time": ISO, "to": "+12125550147", "message": message}
        return json.dumps([event | extra]).encode()

    def delivered(self, message_id: str) -> bytes:
        """A ``message-delivered`` event."""
        return self._out("message-delivered", message_id, description="ok")

    def failed(self, message_id: str, code: str) -> bytes:
        """A ``message-failed`` event with the numeric ``errorCode``."""
        return self._out("message-failed", message_id, errorCode=int(code), description="failed")

    def sign(self, url: str, body: bytes, stamp: Stamp, *, wrong: bool = False) -> dict[str, str]:
        """The basic auth configured on the Bandwidth application."""
        password = (self.password + "x") if wrong else self.password
        token = base64.b64encode(f"{self.user}:{password}".encode()).decode()
        return {"authorization": f"Basic {token}"}


def all_kits() -> list[Kit]:
    """One kit per vendor that has signed callbacks."""
    return [TwilioKit(), SignalWireKit(), TelnyxKit(), PlivoKit(), VonageKit(), BandwidthKit()]
