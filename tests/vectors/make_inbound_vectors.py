"""Produces cobo-python-sdk-inbound-vectors.json: webhook and callback signatures as the official
Python SDK (cobo-waas2, PyPI) verifies them.

What runs of the SDK:
- `cobo_waas2.crypto.signing_helper.SignHelper.verify(pub_key, signature, content)`: the SDK's
  verify function (the one its ApiClient uses on responses);
- `cobo_waas2.server_demo.verify_signature(public_key, signature, message)`: the function of the
  SDK's FastAPI webhook/callback demo;
- the demo's FastAPI app itself (`/api/webhook`, `/api/callback`), through Starlette's TestClient,
  with the demo's public key replaced by the vectors' test key: `demo_status` is what it answered
  (it reads the headers with FastAPI's `Header(None)`, which looks up the hyphenated names only).

Cobo's side (signing `RAW_BODY|TIMESTAMP`, SHA-256 twice, ed25519) is PyNaCl's `SigningKey.sign`,
as the SDK's `LocalEd25519Signer` signs. Keys are test keys derived from fixed labels.

Run: python3 -m venv /tmp/venv && /tmp/venv/bin/pip install cobo-waas2==1.46.0 httpx
     /tmp/venv/bin/python tests/vectors/make_inbound_vectors.py > tests/vectors/cobo-python-sdk-inbound-vectors.json
"""

import hashlib
import importlib.metadata as md
import json
import logging
import sys
import warnings

from nacl.signing import SigningKey

import cobo_waas2.server_demo as demo
from cobo_waas2.crypto.signing_helper import SignHelper
from fastapi.testclient import TestClient

logging.disable(logging.INFO)  # the demo logs every event it parses
warnings.simplefilter("ignore")


def seed(label):
    return hashlib.sha256(label.encode()).digest()


COBO = SigningKey(seed("cobo-oauth inbound vectors: cobo response key"))
OTHER = SigningKey(seed("cobo-oauth inbound vectors: another key"))
COBO_PUB = COBO.verify_key.encode().hex()
OTHER_PUB = OTHER.verify_key.encode().hex()

demo.pubkey = COBO_PUB  # the demo verifies with its module-level `pubkey`
client = TestClient(demo.app, raise_server_exceptions=False)


def sign(key, content):
    digest = hashlib.sha256(hashlib.sha256(content.encode()).digest()).digest()
    return key.sign(digest).signature.hex()


TS = "1735689600123"
EVENT = json.dumps(
    {
        "event_id": "8f2e919a-6a7b-4a9b-8c1a-4c0b3f5b8b1f",
        "url": "https://app.example/api/webhook",
        "created_timestamp": 1735689600000,
        "type": "wallets.transaction.succeeded",
        "data": {
            "data_type": "Transaction",
            "transaction_id": "aff0e1cb-15b2-4e1f-9b9d-a9133715986f",
            "wallet_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
            "type": "Withdrawal",
            "status": "Success",
            "chain_id": "ETH",
            "token_id": "ETH",
            "source": {"source_type": "Org-Controlled", "wallet_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479"},
            "destination": {"destination_type": "Address", "account_output": {"address": "0xabc", "amount": "1.5"}},
            "initiator_type": "API",
            "created_timestamp": 1735689500000,
            "updated_timestamp": 1735689600000,
        },
        "status": "Success",
    },
    separators=(",", ":"),
)
CALLBACK = json.dumps(
    {
        "transaction_id": "aff0e1cb-15b2-4e1f-9b9d-a9133715986f",
        "request_id": "withdraw-42",
        "wallet_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "type": "Withdrawal",
        "status": "PendingApproval",
        "chain_id": "ETH",
        "token_id": "ETH",
        "source": {"source_type": "Org-Controlled", "wallet_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479"},
        "destination": {"destination_type": "Address", "account_output": {"address": "0xabc", "amount": "1.5"}},
        "initiator_type": "API",
        "created_timestamp": 1735689500000,
        "updated_timestamp": 1735689600000,
    }
)
UNICODE = json.dumps(
    {
        "event_id": "0b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8",
        "url": "https://app.example/api/webhook",
        "created_timestamp": 1735689600000,
        "type": "wallets.updated",
        "data": {"data_type": "WalletInfo", "name": "Trésorerie · 財務 🚀"},
    },
    ensure_ascii=False,
)

HYPHEN = ("Biz-Timestamp", "Biz-Resp-Signature")
UNDERSCORE = ("BIZ_TIMESTAMP", "BIZ_RESP_SIGNATURE")
LOWER = ("biz-timestamp", "biz-resp-signature")


def find(headers, *names):
    for name, value in headers:
        if name.lower() in names:
            return value
    return None


def sdk_verify(body, headers, pub):
    """SignHelper.verify and server_demo.verify_signature on what a receiver reads."""
    ts = find(headers, "biz-timestamp", "biz_timestamp")
    sig = find(headers, "biz-resp-signature", "biz_resp_signature")
    out = {}
    for name, fn in (
        ("sdk_verify", lambda: SignHelper.verify(pub_key=pub, signature=sig, content=f"{body}|{ts}")),
        ("demo_verify_signature", lambda: demo.verify_signature(pub, sig, f"{body}|{ts}")),
    ):
        try:
            out[name] = {"result": bool(fn())}
        except Exception as e:  # what the SDK raises instead of answering
            out[name] = {"error": type(e).__name__}
    return out


def case(id, kind, body, headers, expected, pub=COBO_PUB, note=""):
    path = "/api/webhook" if kind == "webhook" else "/api/callback"
    response = client.post(path, content=body.encode(), headers=headers)
    v = {
        "id": id,
        "kind": kind,
        "note": note,
        "receiver_public_key_hex": pub,
        "headers": [list(h) for h in headers],
        "body": body,
        "expected": expected,
        "demo_status": response.status_code,
    }
    v.update(sdk_verify(body, headers, pub))
    return v


def signed(body, names=HYPHEN, ts=TS, key=COBO):
    return [(names[0], ts), (names[1], sign(key, f"{body}|{ts}"))]


vectors = []
vectors.append(case("webhook/valid/hyphen", "webhook", EVENT, signed(EVENT), "valid"))
vectors.append(case("webhook/valid/underscore", "webhook", EVENT, signed(EVENT, UNDERSCORE), "valid",
                    note="the spelling of Cobo's docs and the Go demo; FastAPI's Header() does not read it"))
vectors.append(case("webhook/valid/lowercase", "webhook", EVENT, signed(EVENT, LOWER), "valid"))
vectors.append(case("webhook/valid/unicode_body", "webhook", UNICODE, signed(UNICODE), "valid"))
upper = signed(EVENT)
upper[1] = (upper[1][0], upper[1][1].upper())
vectors.append(case("webhook/valid/uppercase_hex", "webhook", EVENT, upper, "valid"))
vectors.append(case("webhook/valid/old_timestamp", "webhook", EVENT, signed(EVENT, ts="1500000000000"), "valid",
                    note="no official code checks freshness"))
h = signed(EVENT)
vectors.append(case("webhook/tampered_body", "webhook", EVENT.replace("1.5", "9.5"), h, "bad_signature"))
h = signed(EVENT)
vectors.append(case("webhook/tampered_body/trailing_newline", "webhook", EVENT + "\n", h, "bad_signature"))
h = signed(EVENT)
h[0] = (h[0][0], str(int(TS) + 1))
vectors.append(case("webhook/tampered_timestamp", "webhook", EVENT, h, "bad_signature"))
vectors.append(case("webhook/wrong_key", "webhook", EVENT, signed(EVENT, key=OTHER), "bad_signature"))
vectors.append(case("webhook/signed_by_other_key_verified_with_it", "webhook", EVENT, signed(EVENT, key=OTHER),
                    "valid", pub=OTHER_PUB))
h = signed(EVENT)
h[1] = (h[1][0], "zz" + h[1][1][2:])
vectors.append(case("webhook/bad_hex/non_hex", "webhook", EVENT, h, "malformed_signature"))
h = signed(EVENT)
h[1] = (h[1][0], h[1][1][:-1])
vectors.append(case("webhook/bad_hex/odd_length", "webhook", EVENT, h, "malformed_signature"))
h = signed(EVENT)
h[1] = (h[1][0], h[1][1][:-2])
vectors.append(case("webhook/bad_hex/63_bytes", "webhook", EVENT, h, "malformed_signature"))
vectors.append(case("webhook/missing_signature", "webhook", EVENT, signed(EVENT)[:1], "missing_header"))
vectors.append(case("webhook/missing_timestamp", "webhook", EVENT, signed(EVENT)[1:], "missing_header"))
vectors.append(case("callback/valid/hyphen", "callback", CALLBACK, signed(CALLBACK), "valid"))
vectors.append(case("callback/valid/underscore", "callback", CALLBACK, signed(CALLBACK, UNDERSCORE), "valid"))
h = signed(CALLBACK)
vectors.append(case("callback/tampered_body", "callback", CALLBACK.replace("withdraw-42", "withdraw-43"), h,
                    "bad_signature"))
h = signed(CALLBACK)
h[0] = (h[0][0], "1735689600124")
vectors.append(case("callback/tampered_timestamp", "callback", CALLBACK, h, "bad_signature"))
vectors.append(case("callback/wrong_key", "callback", CALLBACK, signed(CALLBACK, key=OTHER), "bad_signature"))

out = {
    "generator": "tests/vectors/make_inbound_vectors.py: cobo-waas2 %s SignHelper.verify, server_demo.verify_signature "
    "and the server_demo FastAPI app (Starlette TestClient); Cobo's signature made with PyNaCl" % md.version("cobo-waas2"),
    "python": sys.version.split()[0],
    "libs": {name: md.version(name) for name in ("cobo-waas2", "PyNaCl", "fastapi", "starlette", "httpx")},
    "content": "RAW_BODY|TIMESTAMP; sha256(sha256(utf8(content))); ed25519",
    "cobo_test_public_key_hex": COBO_PUB,
    "other_test_public_key_hex": OTHER_PUB,
    "vectors": vectors,
}
json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
print()
