#!/usr/bin/env python3
"""Side-by-side comparison of cobo-oauth with Cobo's official Python and JS SDKs.

    python3 bench/compare.py [--calls 2000] [--warmup 200] [--runs 3]

In one run on one machine it:
1. builds the Rust client (`bench/examples/bench_client.rs`) and the `cobo-oauth` CLI in release mode;
2. installs, under target/bench-compare/, the official Python SDK (`cobo-waas2` from PyPI, in a
   venv) and the official JS SDK (`@cobo/cobo-waas2` from npm);
3. starts one local server, `cobo-oauth mock-server --fixed-token`, which answers every
   `/v2/oauth/token` request with the same signed token response;
4. runs each client's sequential `get_token` loop `--runs` times, in turn, and takes the median
   calls per second and the peak memory (max RSS of the client process, from wait4);
5. prints a Markdown table of the results and the ratios to ours.

Every client signs its requests; ours and the Python SDK verify the response signatures (the JS
SDK does not verify responses at all).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "target" / "bench-compare"
CLIENTS = Path(__file__).resolve().parent / "clients"
PYTHON_SDK = "cobo-waas2==1.46.0"
JS_SDK = "@cobo/cobo-waas2@1.8.0"
RESPONSE_SEED = "11" * 32


def step(message):
    print(f"== {message}", file=sys.stderr, flush=True)


def setup():
    step("building the Rust client and the mock server (release)")
    for target in (["-p", "cobo-oauth-bench", "--example", "bench_client"], ["-p", "cobo-oauth-cli", "--bin", "cobo-oauth"]):
        subprocess.run(["cargo", "build", "--quiet", "--release", *target], cwd=ROOT, check=True)
    venv = WORK / "venv"
    if not (venv / "bin" / "python").exists():
        step(f"installing {PYTHON_SDK} in {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", PYTHON_SDK], check=True)
    js = WORK / "js"
    if not (js / "node_modules" / "@cobo" / "cobo-waas2").exists():
        step(f"installing {JS_SDK} in {js}")
        js.mkdir(parents=True, exist_ok=True)
        (js / "package.json").write_text('{"name": "cobo-bench", "private": true}\n')
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", JS_SDK], cwd=js, check=True)
    return venv / "bin" / "python", js


def start_server():
    server = subprocess.Popen(
        [str(ROOT / "target" / "release" / "cobo-oauth"), "mock-server", "--fixed-token",
         "--response-seed", RESPONSE_SEED, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    info = json.loads(server.stdout.readline())
    return server, info["base_url"], info["response_key"]


def measure(command, env=None):
    """Runs one client; returns (its JSON result, peak RSS in MiB)."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"client failed ({status}): {' '.join(map(str, command))}")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per run")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls first")
    parser.add_argument("--runs", type=int, default=3, help="runs per client (median reported)")
    args = parser.parse_args()

    python, js = setup()
    server, base_url, response_key = start_server()
    node_env = dict(os.environ, NODE_PATH=str(js / "node_modules"))
    common = [base_url, response_key, str(args.calls), str(args.warmup)]
    clients = [
        ("rust", [str(ROOT / "target" / "release" / "examples" / "bench_client"), *common], None),
        ("python", [str(python), str(CLIENTS / "python_client.py"), *common], None),
        ("js", ["node", str(CLIENTS / "js_client.js"), *common], node_env),
    ]
    results = {name: [] for name, _, _ in clients}
    try:
        for run in range(args.runs):
            for name, command, env in clients:
                step(f"run {run + 1}/{args.runs}: {name}")
                results[name].append(measure(command, env))
    finally:
        server.terminate()
        server.wait()

    rows = []
    for name, runs in results.items():
        rates = [r["calls"] / r["seconds"] for r, _ in runs]
        rows.append((name, runs[0][0]["client"], statistics.median(rates), max(rss for _, rss in runs)))
    ours = rows[0][2]
    python_rate = rows[1][2]
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
          f"Python {platform.python_version()}; node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}")
    print(f"Sequential get_token, {args.calls} timed calls after {args.warmup} warm-up, median of {args.runs} runs, "
          f"one local mock server (fixed signed token response) on loopback.\n")
    print("| client | calls/s | vs Python SDK | cobo-oauth is faster by | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for name, label, rate, rss in rows:
        print(f"| {label} | {rate:,.0f} | {rate / python_rate:.2f}x | {ours / rate:.2f}x | {rss:.1f} |")


if __name__ == "__main__":
    main()
