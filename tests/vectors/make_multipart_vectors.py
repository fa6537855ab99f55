"""Produces cobo-python-sdk-multipart-vectors.json: how the official Python SDK (cobo-waas2,
PyPI) signs and sends a multipart/form-data request, `PaymentApi.upload_payment_file`.

What runs of the SDK: the generated `PaymentApi.upload_payment_file(file=...)` through its own
`ApiClient`, `RESTClientObject` (urllib3) and `SignHelper`, against a loopback HTTP server that
records the request as it arrived and answers 201. Fixed: the key (a test key derived from a
label), the nonce (`time.time` of the signing helper) and the multipart boundary
(`urllib3.filepost.choose_boundary`), so that the body and the signature are reproducible.
`str_to_sign` is what the SDK's `SignHelper._build_unsigned_digest` hashed, recorded by wrapping
it. The recorder does not sign its answer, so the SDK raises after sending
(`exception_after_send`). The SDK signs `json.dumps(body) if body else ""` and a multipart request has no JSON body,
so its signed BODY is empty while the wire body is the form.

Run: python3 -m venv /tmp/venv && /tmp/venv/bin/pip install cobo-waas2==1.46.0
     /tmp/venv/bin/python tests/vectors/make_multipart_vectors.py > tests/vectors/cobo-python-sdk-multipart-vectors.json
"""

import hashlib
import http.server
import importlib.metadata as md
import json
import os
import sys
import tempfile
import threading
import types

import urllib3.filepost

import cobo_waas2
import cobo_waas2.crypto.signing_helper as signing_helper
from cobo_waas2.crypto.signing_helper import SignHelper

NONCE_MS = 1718587017026
BOUNDARY = "0c0b0e7a5ee5f1d0a2b3c4d5e6f70819"

RECEIVED = []


class Recorder(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length", "0"))
        RECEIVED.append(
            {
                "method": self.command,
                "target": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": self.rfile.read(length),
            }
        )
        body = json.dumps({"file_id": "f-1", "expired_timestamp": 1}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


SIGNED = []
_build = SignHelper._build_unsigned_digest.__func__


def recording_build(cls, method, path, timestamp, params=None, body=None):
    body_str = str(body, "utf-8", "strict") if body else ""
    from urllib.parse import urlencode

    SIGNED.append("|".join((method.upper(), path, timestamp, urlencode(params or {}), body_str)))
    return _build(cls, method, path, timestamp, params=params, body=body)


SignHelper._build_unsigned_digest = classmethod(recording_build)
signing_helper.time = types.SimpleNamespace(time=lambda: NONCE_MS / 1000)
urllib3.filepost.choose_boundary = lambda: BOUNDARY


def key(label):
    return hashlib.sha256(label.encode()).hexdigest()


def main():
    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    private_key = key("cobo-oauth multipart vector key")
    config = cobo_waas2.Configuration(
        api_private_key=private_key, host=f"http://127.0.0.1:{server.server_port}/v2"
    )
    tmp = tempfile.mkdtemp()
    cases = [
        ("bytes", "file bytes: the SDK names the part after its field", b"\x89PNG\r\n\x1a\n\x00binary\xff"),
    ]
    for name, data in [
        ("kyc.pdf", b"%PDF-1.4 a merchant's KYC document\n"),
        ('id "front".png', b"a file name with quotes"),
        ("营业执照.jpg", b"\xff\xd8\xff a non-ASCII file name"),
    ]:
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        cases.append((name, "a file path: the SDK names the part after the file", path))
    vectors = []
    with cobo_waas2.ApiClient(config) as client:
        api = cobo_waas2.PaymentApi(client)
        for case, note, file in cases:
            RECEIVED.clear()
            SIGNED.clear()
            try:
                api.upload_payment_file(file=file)
                after_send = None
            except cobo_waas2.ApiException as e:  # the recorder does not sign its answer
                after_send = f"ApiException(status={e.status}, reason={e.reason!r})"
            [request] = RECEIVED
            [str_to_sign] = SIGNED
            headers = dict((k.lower(), v) for k, v in request["headers"])
            # The SDK's own reading of the file: (file name, bytes, guessed content type).
            [(field, (file_name, file_bytes, part_type))] = client.files_parameters({"file": file})
            vectors.append(
                {
                    "id": f"multipart/upload_payment_file/{case}",
                    "note": note,
                    "private_key_hex": private_key,
                    "public_key_hex": headers["biz-api-key"],
                    "nonce": str(NONCE_MS),
                    "boundary": BOUNDARY,
                    "field": field,
                    "file_name": file_name,
                    "file_bytes_hex": file_bytes.hex(),
                    "part_content_type": part_type,
                    "exception_after_send": after_send,
                    "wire_method": request["method"],
                    "wire_request_target": request["target"],
                    "wire_content_type": headers["content-type"],
                    "wire_body_hex": request["body"].hex(),
                    "str_to_sign": str_to_sign,
                    "signature_hex": headers["biz-api-signature"],
                }
            )
    server.shutdown()
    json.dump(
        {
            "generator": "tests/vectors/make_multipart_vectors.py",
            "python": sys.version.split()[0],
            "libs": {lib: md.version(lib) for lib in ["cobo-waas2", "urllib3", "PyNaCl"]},
            "multipart_vectors": vectors,
        },
        sys.stdout,
        indent=1,
        ensure_ascii=False,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
