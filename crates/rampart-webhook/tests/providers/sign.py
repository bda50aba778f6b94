"""Signs sample webhooks with the providers' own Python libraries.

Prints a JSON list of cases for tests/it/providers.rs: each a source spec,
the request (headers, body, query) as the provider would send it, the time
it is checked at, and what rampart must answer (`ok` or an error code).
Run with the packages of requirements.txt installed.
"""

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl

import stripe
from slack_sdk.signature import SignatureVerifier
from standardwebhooks.webhooks import Webhook
from twilio.request_validator import RequestValidator

SAMPLES = Path(__file__).parent / "samples"
NOW = 1_765_000_000


def sample(name):
    return (SAMPLES / name).read_text()


def case(name, spec, headers, body, expect, now=NOW, query=None, event=None):
    return {"name": name, "spec": spec, "headers": headers, "body": body, "query": query,
            "now": now, "expect": expect, "event": event}


def stripe_cases():
    body = sample("stripe_event.json")
    sign = stripe.WebhookSignature.generate_signature_header
    new, old = "whsec_test_new_8b2d5f", "whsec_test_old_91ac0e"
    spec = {"scheme": "stripe", "secret": new}
    event = {"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "event_type": "setup_intent.created",
             "tenant": "acct_1032D82eZvKYlo2C"}
    single = sign(body, new, timestamp=NOW)
    # Its own verification agrees before rampart is asked.
    stripe.WebhookSignature.verify_header(body, single, new, tolerance=None)
    # A secret roll: one v1 per live secret; test mode adds a v0 with a fake key.
    rolled = sign(body, old, timestamp=NOW) + "," + single.split(",")[1] + ",v0=" + "6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
    return [
        case("stripe: one v1", spec, [["Stripe-Signature", single]], body, "ok", event=event),
        case("stripe: secret roll and a fake v0", spec, [["Stripe-Signature", rolled]], body, "ok", event=event),
        case("stripe: rotation, the old secret still live",
             {"scheme": "stripe", "secrets": [{"value": old, "expires_at": "2026-12-31T00:00:00Z"}, {"value": new}]},
             [["Stripe-Signature", sign(body, old, timestamp=NOW)]], body, "ok"),
        case("stripe: rotation, the old secret expired",
             {"scheme": "stripe", "secrets": [{"value": old, "expires_at": "2025-01-01T00:00:00Z"}, {"value": new}]},
             [["Stripe-Signature", sign(body, old, timestamp=NOW)]], body, "SIGNATURE_INVALID"),
        case("stripe: wrong secret", {"scheme": "stripe", "secret": old}, [["Stripe-Signature", single]], body,
             "SIGNATURE_INVALID"),
        case("stripe: stale", spec, [["Stripe-Signature", sign(body, new, timestamp=NOW - 301)]], body, "TIMESTAMP_STALE"),
        case("stripe: future", spec, [["Stripe-Signature", sign(body, new, timestamp=NOW + 301)]], body, "TIMESTAMP_STALE"),
        case("stripe: missing header", spec, [], body, "SIGNATURE_MISSING"),
    ]


def slack_cases():
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    verifier = SignatureVerifier(secret)
    out = []
    for file, event in [("slack_app_mention.json", {"id": "Ev0LAN670R", "event_type": "app_mention", "tenant": "T061EG9R6"}),
                        ("slack_url_verification.json", None)]:
        body = sample(file)
        ts = str(NOW)
        sig = verifier.generate_signature(timestamp=ts, body=body)
        headers = [["X-Slack-Request-Timestamp", ts], ["X-Slack-Signature", sig]]
        out.append(case(f"slack: {file}", {"scheme": "slack", "secret": secret}, headers, body, "ok", event=event))
    body = sample("slack_app_mention.json")
    old = str(NOW - 600)
    out.append(case("slack: stale", {"scheme": "slack", "secret": secret},
                    [["X-Slack-Request-Timestamp", old], ["X-Slack-Signature", verifier.generate_signature(timestamp=old, body=body)]],
                    body, "TIMESTAMP_STALE"))
    return out


def standard_cases():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = sample("standard_contact_created.json")
    wh = Webhook(secret)
    at = datetime.fromtimestamp(NOW, tz=timezone.utc)
    sig = wh.sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", at, body)
    headers = {"webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "webhook-timestamp": str(NOW), "webhook-signature": sig}
    event = {"id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "event_type": "contact.created", "tenant": None}
    other = Webhook("whsec_" + "b3RoZXIgc2VjcmV0IGtleSBieXRlcw==").sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", at, body)
    both = dict(headers, **{"webhook-signature": other + " " + sig})
    return [
        case("standard: one signature", {"scheme": "standard", "secret": secret}, [[k, v] for k, v in headers.items()],
             body, "ok", event=event),
        case("standard: two signatures", {"scheme": "standard", "secret": secret}, [[k, v] for k, v in both.items()],
             body, "ok", event=event),
        case("standard: stale", {"scheme": "standard", "secret": secret}, [[k, v] for k, v in headers.items()],
             body, "TIMESTAMP_STALE", now=NOW + 301),
    ]


def twilio_cases():
    token = "12345abcdef67890token"
    url = "https://rampart.example.com/in/sms"
    validator = RequestValidator(token)
    form = sample("twilio_sms.form")
    params = dict(parse_qsl(form, keep_blank_values=True))
    sig = validator.compute_signature(url, params)
    assert validator.validate(url, params, sig)
    spec = {"scheme": "twilio", "secret": token, "public_url": url}
    form_headers = [["Content-Type", "application/x-www-form-urlencoded"], ["X-Twilio-Signature", sig],
                    ["I-Twilio-Idempotency-Token", "0d4a6b5e-8c1f-4e2e-9b62-7a2f4c1d9e3a"]]
    json_body = json.dumps({"MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f", "MessageStatus": "delivered"})
    query = "bodySHA256=" + validator.compute_hash(json_body)
    json_sig = validator.compute_signature(url + "?" + query, {})
    assert validator.validate(url + "?" + query, json_body, json_sig)
    with_port = validator.compute_signature("https://rampart.example.com:443/in/sms", params)
    sha256 = validator.compute_signature(url, params, "HMAC_SHA256")
    return [
        case("twilio: form body", spec, form_headers, form, "ok",
             event={"id": "0d4a6b5e-8c1f-4e2e-9b62-7a2f4c1d9e3a", "event_type": "received",
                    "tenant": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"}),
        case("twilio: json body with bodySHA256", spec,
             [["Content-Type", "application/json"], ["X-Twilio-Signature", json_sig]], json_body, "ok", query=query),
        case("twilio: signed with the port", spec,
             [["Content-Type", "application/x-www-form-urlencoded"], ["X-Twilio-Signature", with_port]], form, "ok"),
        case("twilio: HMAC-SHA256 settings", spec,
             [["Content-Type", "application/x-www-form-urlencoded"], ["X-Twilio-Signature", sha256],
              ["X-Twilio-Webhooks-Signature-Settings", "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"]], form, "ok"),
        case("twilio: another URL", dict(spec, public_url="https://rampart.example.com/in/other"), form_headers, form,
             "SIGNATURE_INVALID"),
    ]


if __name__ == "__main__":
    cases = stripe_cases() + slack_cases() + standard_cases() + twilio_cases()
    json.dump(cases, sys.stdout)
