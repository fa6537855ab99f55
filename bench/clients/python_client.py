"""The Python side of bench/compare.py: the official cobo-waas2 SDK, sequential get_token calls.

The SDK knows only Cobo's own response keys (Configuration.resp_pubkey picks one by host), so a
subclass returns the local server's key instead: the SDK then verifies the local server's
signatures exactly as it verifies Cobo's.
"""
import json
import sys
import time

import cobo_waas2

SECRET = "a84fa52a55b98b9bcfd79fb55e019b002b4bb23a6654708cfe7dd1d46c55e950"


def main():
    base_url, response_key, calls, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

    class LocalConfiguration(cobo_waas2.Configuration):
        @property
        def resp_pubkey(self):
            return response_key

    configuration = LocalConfiguration(api_private_key=SECRET, host=base_url)
    with cobo_waas2.ApiClient(configuration) as api_client:
        api = cobo_waas2.OAuthApi(api_client)

        def call():
            api.get_token("pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij", "e3986401-4aec-480a-973d-e775a4518413", "org_implicit")

        for _ in range(warmup):
            call()
        started = time.perf_counter()
        for _ in range(calls):
            call()
        seconds = time.perf_counter() - started
    print(json.dumps({"client": f"cobo-waas2 {cobo_waas2.__version__} (Python)", "calls": calls, "seconds": seconds}))


if __name__ == "__main__":
    main()
