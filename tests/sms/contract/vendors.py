"""The per-vendor drivers: each vendor's fake, adapter settings and documented answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cache
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from asterisk_textback.sms.base import Provider
from asterisk_textback.sms.settings import WebhookSettings
from asterisk_textback.sms.vendors.bandwidth import BandwidthProvider, BandwidthSettings
from asterisk_textback.sms.vendors.plivo import PlivoProvider, PlivoSettings
from asterisk_textback.sms.vendors.signalwire import SignalWireProvider, SignalWireSettings
from asterisk_textback.sms.vendors.telnyx import TelnyxProvider, TelnyxSettings
from asterisk_textback.sms.vendors.twilio import TwilioProvider, TwilioSettings
from asterisk_textback.sms.vendors.vonage import VonageProvider, VonageSettings
from asterisk_textback.sms.vendors.webhook import WebhookProvider
from tests.app import fakes as gateway
from tests.sms import fake_bandwidth, fake_plivo, fake_telnyx, fake_twilio, fake_vonage
from tests.sms.contract.driver import SMS, TIMEOUT, Answer, Driver, Gap, Scenario
from tests.sms.contract.kits import (
    BandwidthKit,
    PlivoKit,
    SignalWireKit,
    TelnyxKit,
    TwilioKit,
    VonageKit,
)

S = Scenario
RETRY = {"Retry-After": "7"}


def _from_fake(reply: Any) -> Answer:
    """One of a fake's canned vendor answers, as an :class:`Answer`."""
    return Answer(reply.status, reply.body, headers=dict(reply.headers))


class TwilioDriver(Driver):
    """Twilio's Messages API (error codes from twilio.com/docs/api/errors)."""

    id = provider = "twilio"
    reply_type, raw_field = fake_twilio.Reply, "text"
    records_attr, fields, ok_status = "forms", ("To", "From", "Body"), 201
    verify_says = "account 'Acme Plumbing' active (Full)"
    user, token, prefix = "AC" + "ab" * 16, "twilio-auth-token", ""

    def __init__(self) -> None:
        self.kit = TwilioKit()

    def serve(self) -> AbstractAsyncContextManager[Any]:
        """Twilio's REST API on a loopback port."""
        return fake_twilio.fake_twilio(self.user, self.token, self.prefix)

    def build(
        self, http: aiohttp.ClientSession, base_url: str, *, good_credentials: bool = True
    ) -> Provider:
        """A TwilioProvider with the account SID and auth token."""
        settings = TwilioSettings(
            account_sid=self.user, api_base_url=base_url, timeout_seconds=TIMEOUT
        )
        return TwilioProvider(settings, http, self.token if good_credentials else "wrong")

    def accepted(self, message_id: str) -> Answer:
        """201 with the Message resource."""
        body = {"sid": message_id, "status": "queued", "to": SMS.to, "from": SMS.sender}
        body |= {"body": SMS.body, "num_segments": "1", "direction": "outbound-api"}
        return Answer(201, body | {"api_version": "2010-04-01", "error_code": None})

    def answers(self) -> Mapping[Scenario, Answer | Gap]:
        """Twilio's documented send errors (the magic test numbers produce the same)."""
        error = fake_twilio.error_body
        return {
            S.INVALID_NUMBER: Answer(400, error(21211, "Invalid 'To' Phone Number", 400)),
            S.LANDLINE: Answer(400, error(21614, "'To' number is not a valid mobile number", 400)),
            S.OPTED_OUT: Answer(
                400, error(21610, "Attempt to send to unsubscribed recipient", 400)
            ),
            S.RATE_LIMITED: Answer(429, error(20429, "Too Many Requests", 429), headers=RETRY),
            S.SERVER_ERROR: Answer(500, error(20500, "Internal Server Error", 500)),
        }


class SignalWireDriver(TwilioDriver):
    """SignalWire's LaML API: Twilio's dialect and error codes, under the Space's URL."""

    id = provider = "signalwire"
    user, token, prefix = "c0ffee00-0000-4000-8000-000000000001", "PT-signalwire-token", "/api/laml"

    def __init__(self) -> None:
        self.kit = SignalWireKit()

    def build(
        self, http: aiohttp.ClientSession, base_url: str, *, good_credentials: bool = True
    ) -> Provider:
        """A SignalWireProvider with the project id and API token."""
        settings = SignalWireSettings(
            space="example", project_id=self.user, api_base_url=base_url, timeout_seconds=TIMEOUT
        )
        return SignalWireProvider(settings, http, self.token if good_credentials else "wrong")


class TelnyxDriver(Driver):
    """Telnyx v2 messages (developers.telnyx.com/docs/messaging/messages/error-codes)."""

    provider = "telnyx"
    reply_type = fake_telnyx.Reply
    profile_id = "4000eba1-a0c0-4563-9925-b25e842a7cb6"

    def __init__(self, *, profile: bool) -> None:
        self.profile = profile
        self.id = "telnyx-profile" if profile else "telnyx"
        self.verify_says = (
            "messaging profile 'Acme Plumbing' enabled"
            if profile
            else "account balance 300.00 USD, available credit 400.00"
        )
        self.kit = TelnyxKit()

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[Any]:
        """Telnyx's v2 API with the messaging profile registered."""
        async with fake_telnyx.fake_telnyx() as fake:
            fake.profiles[self.profile_id] = {
                "id": self.profile_id,
                "name": "Acme Plumbing",
                "enabled": True,
            }
            yield fake

    def build(
        self, http: aiohttp.ClientSession, base_url: str, *, good_credentials: bool = True
    ) -> Provider:
        """A TelnyxProvider with the API v2 key (and the messaging profile if driven so)."""
        settings = TelnyxSettings(
            messaging_profile_id=self.profile_id if self.profile else None,
            api_base_url=base_url,
            timeout_seconds=TIMEOUT,
        )
        key = fake_telnyx.API_KEY if good_credentials else "KEYwrong"
        return TelnyxProvider(settings, http, key)

    def accepted(self, message_id: str) -> Answer:
        """200 with the message record."""
        data = {"record_type": "message", "direction": "outbound", "id": message_id}
        data |= {"type": "SMS", "from": {"phone_number": SMS.sender}, "text": SMS.body}
        data |= {"to": [{"phone_number": SMS.to, "status": "queued"}], "parts": 1}
        return Answer(200, {"data": data})

    def answers(self) -> Mapping[Scenario, Answer | Gap]:
        """Telnyx's documented API errors; a landline is only reported on delivery."""
        return {
            S.INVALID_NUMBER: _from_fake(fake_telnyx.INVALID_TO),
            S.LANDLINE: Gap(
                "Telnyx lists 40001 'Not routable' (landline) among delivery errors, reported "
                "in message.finalized webhooks (developers.telnyx.com/docs/messaging/messages/"
                "error-codes)",
                callback_code="40001",
            ),
            S.OPTED_OUT: _from_fake(fake_telnyx.STOP_BLOCKED),
            S.RATE_LIMITED: _from_fake(fake_telnyx.RATE_LIMITED),
            S.SERVER_ERROR: _from_fake(fake_telnyx.SERVER_ERROR),
        }


class PlivoDriver(Driver):
    """Plivo's Message API (plivo.com/docs/messaging/api/message)."""

    id = provider = "plivo"
    reply_type = fake_plivo.Reply
    fields, ok_status = ("dst", "src", "text"), 202
    verify_says = "standard account 'Acme Plumbing', credit 23.45000"

    def __init__(self) -> None:
        self.kit = PlivoKit()

    def serve(self) -> AbstractAsyncContextManager[Any]:
        """Plivo's API on a loopback port."""
        return fake_plivo.fake_plivo()

    def build(
        self, http: aiohttp.ClientSession, base_url: str, *, good_credentials: bool = True
    ) -> Provider:
        """A PlivoProvider with the Auth ID and Auth Token."""
        settings = PlivoSettings(
            auth_id=fake_plivo.AUTH_ID, api_base_url=base_url, timeout_seconds=TIMEOUT
        )
        token = fake_plivo.AUTH_TOKEN if good_credentials else "wrong"
        return PlivoProvider(settings, http, token)

    def accepted(self, message_id: str) -> Answer:
        """202 with ``message_uuid``."""
        body = {"api_id": "db342550-7bb6-11ee-9b44-0242ac110002"}
        return Answer(202, body | {"message": "message(s) queued", "message_uuid": [message_id]})

    def answers(self) -> Mapping[Scenario, Answer | Gap]:
        """Plivo validates the request; carrier verdicts come in the status callback."""
        codes = "plivo.com/docs/messaging/troubleshooting/error-codes"
        return {
            S.INVALID_NUMBER: _from_fake(fake_plivo.INVALID_DST),
            S.LANDLINE: Gap(
                f"Plivo queues the text; a landline comes back as ErrorCode 50 ({codes})",
                callback_code="50",
            ),
            S.OPTED_OUT: Gap(
                f"Plivo queues the text; a STOP block comes back as ErrorCode 200 ({codes})",
                callback_code="200",
            ),
            S.RATE_LIMITED: _from_fake(fake_plivo.RATE_LIMITED),
            S.SERVER_ERROR: _from_fake(fake_plivo.SERVER_ERROR),
        }


@cache
def _rsa_pem(which: int) -> tuple[rsa.RSAPrivateKey, str]:
    """An RSA key (and its PEM) per ``which``, generated once per test session."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


def _problem(code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    kind = f"https://developer.vonage.com/api-errors/messages#{code}"
    return {"type": kind, "title": title, "detail": detail, "instance": "bf0ca0bf927b"} | extra


class VonageDriver(Driver):
    """Vonage's Messages API (developer.vonage.com/en/api-errors/messages)."""

    provider = "vonage"
    reply_type = fake_vonage.Reply
    url_attr, ok_status = "base_url", 202
    app_id, api_key, secret = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", "abcd1234", "api-secret"

    def __init__(self, *, auth: str) -> None:
        self.auth = auth
        self.id = f"vonage-{auth}"
        self.kit = VonageKit()
        if auth == "jwt":
            self.verify_says = "signs and self-verifies"
            self.verify_gap = (
                "the Messages API has no read call an application JWT may make "
                "(developer.vonage.com/en/api/messages); verify() self-checks the JWT"
            )
        else:
            self.verify_says = "account 'abcd1234' active, balance 10.28 EUR"

    def serve(self) -> AbstractAsyncContextManager[Any]:
        """The Messages API (JWT or basic) and the Account API's balance."""
        public = _rsa_pem(0)[0].public_key()
        basic = (self.api_key, self.secret)
        return fake_vonage.fake_vonage(application_id=self.app_id, public_key=public, basic=basic)

    def build(
        self, http: aiohttp.ClientSession, base_url: str, *, good_credentials: bool = True
    ) -> Provider:
        """A VonageProvider (a key of another application when credentials must be wrong)."""
        settings = VonageSettings(
            auth="jwt" if self.auth == "jwt" else "basic",
            application_id=self.app_id,
            private_key_env="VONAGE_PRIVATE_KEY",
            api_key=self.api_key,
            api_secret_env="VONAGE_API_SECRET",
            api_base_url=base_url,
            account_api_base_url=base_url,
            timeout_seconds=TIMEOUT,
        )
        pem = _rsa_pem(0 if good_credentials else 1)[1]
        secret = self.secret if good_credentials else "wrong"
        return VonageProvider(settings, http, private_key=pem, api_secret=secret)

    def accepted(self, message_id: str) -> Answer:
        """202 with ``message_uuid``."""
        return Answer(202, {"message_uuid": message_id})

    def answers(self) -> Mapping[Scenario, Answer | Gap]:
        """Vonage validates the request; carrier verdicts come in the status webhook."""
        invalid = _problem(
            "1150",
            "Invalid params",
            "The value of one or more parameters is invalid.",
            invalid_parameters=[{"name": "to", "reason": "Invalid value"}],
        )
        return {
            S.INVALID_NUMBER: Answer(422, invalid),
            S.LANDLINE: Gap(
                "the Messages API error list has no landline / not-SMS-capable code "
                "(developer.vonage.com/en/api-errors/messages): the send is accepted (202)"
            ),
            S.OPTED_OUT: Gap(
                "Vonage answers 202 for an opted-out recipient and reports the block only in "
                "the status webhook, with no error code pinned in the doc "
                "(developer.vonage.com/en/opt-out-assist/guides/messaging-opted-out-numbers)"
            ),
            S.RATE_LIMITED: Answer(
                429, _problem("1000", "Throttled", "Please wait and retry"), headers=RETRY
            ),
            S.SERVER_ERROR: Answer(500, _problem("1030", "Internal error", "Please retry")),
        }


class BandwidthDriver(Driver):
    """Bandwidth Messaging v2 (dev.bandwidth.com/docs/messaging/errors)."""

    id = provider = "bandwidth"
    reply_type = fake_bandwidth.Reply
    url_attr, ok_status = "base_url", 202
    account, app_id, client = "9900000", "93de2206-9669-4e07-948d-329f4b722ee2", ("cid", "cs")
    verify_says = "account 9900000: messaging API access confirmed"

    def __init__(self) -> None:
        self.kit = BandwidthKit()

    def serve(self) -> AbstractAsyncContextManager[Any]:
        """Messaging v2 and the OAuth token endpoint."""
        return fake_bandwidth.fake_bandwidth(self.account, self.client)

    def build(
        self, http: aiohttp.ClientSession, base_url: str, *, good_credentials: bool = True
    ) -> Provider:
        """A BandwidthProvider with OAuth client credentials."""
        settings = BandwidthSettings(
            account_id=self.account,
            application_id=self.app_id,
            client_id=self.client[0],
            client_secret_env="BANDWIDTH_CLIENT_SECRET",
            api_base_url=base_url,
            token_url=f"{base_url}/api/v1/oauth2/token",
            timeout_seconds=TIMEOUT,
        )
        secret = self.client[1] if good_credentials else "wrong"
        return BandwidthProvider(settings, http, secret=secret)

    def accepted(self, message_id: str) -> Answer:
        """202 with the message (``id``)."""
        body = {"id": message_id, "owner": SMS.sender, "applicationId": self.app_id}
        body |= {"to": [SMS.to], "from": SMS.sender, "text": SMS.body, "segmentCount": 1}
        return Answer(202, body | {"direction": "out", "time": "2023-11-14T22:13:20.000Z"})

    def answers(self) -> Mapping[Scenario, Answer | Gap]:
        """Bandwidth validates the request; carrier verdicts come as message-failed."""
        invalid: dict[str, Any] = {"type": "request-validation", "description": "not accepted"}
        invalid["fieldErrors"] = [{"fieldName": "to", "description": "'+1212' is invalid"}]
        doc = "dev.bandwidth.com/docs/messaging/errors"
        return {
            S.INVALID_NUMBER: Answer(400, invalid),
            S.LANDLINE: Gap(
                f"Bandwidth accepts (202); a landline fails later with errorCode 4720 ({doc})",
                callback_code="4720",
            ),
            S.OPTED_OUT: Gap(
                f"Bandwidth accepts (202); a carrier opt-out fails with errorCode 4775 ({doc})",
                callback_code="4775",
            ),
            S.RATE_LIMITED: Answer(
                429, {"type": "too-many-requests", "description": "slow down"}, headers=RETRY
            ),
            S.SERVER_ERROR: Answer(500, {"type": "internal", "description": "error"}),
        }


class WebhookDriver(Driver):
    """The generic HTTP webhook: its answers are the adapter's own documented vocabulary."""

    id = provider = "webhook"
    reply_type = gateway.Reply
    fields = ("to", "from", "body")
    id_optional = True
    no_kit_reason = (
        "the generic webhook adapter only sends: provider.name 'webhook' configures no "
        "callback verifier (build_webhooks returns none), so there is nothing to sign"
    )

    def serve(self) -> AbstractAsyncContextManager[Any]:
        """A gateway at ``/send``."""
        return gateway.fake_gateway()

    def build(
        self, http: aiohttp.ClientSession, base_url: str, *, good_credentials: bool = True
    ) -> Provider:
        """A WebhookProvider posting JSON to the gateway."""
        return WebhookProvider(WebhookSettings(url=base_url, timeout_seconds=TIMEOUT), http, None)

    def accepted(self, message_id: str) -> Answer:
        """200 with ``{"id": …}`` (``id_field``)."""
        return Answer(200, {"id": message_id})

    def answers(self) -> Mapping[Scenario, Answer | Gap]:
        """The ``error`` values the adapter documents, and plain HTTP statuses."""
        return {
            S.INVALID_NUMBER: Answer(400, {"error": "invalid_number"}),
            S.LANDLINE: Answer(400, {"error": "landline"}),
            S.OPTED_OUT: Answer(400, {"error": "opted_out"}),
            S.RATE_LIMITED: Answer(429, {"error": "slow down"}, headers=RETRY),
            S.SERVER_ERROR: Answer(503, {"error": "unavailable"}),
            # The gateway's own auth: the adapter sends static headers, so a refusal is the
            # gateway answering 401.
            S.AUTH_FAILURE: Answer(401, {"error": "unauthorized"}),
        }


def all_drivers() -> list[Driver]:
    """Every HTTP adapter, in each auth or configuration mode worth driving."""
    return [
        TwilioDriver(),
        SignalWireDriver(),
        TelnyxDriver(profile=False),
        TelnyxDriver(profile=True),
        PlivoDriver(),
        VonageDriver(auth="jwt"),
        VonageDriver(auth="basic"),
        BandwidthDriver(),
        WebhookDriver(),
    ]
