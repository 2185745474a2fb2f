#!/usr/bin/env python3
"""Overload burst for `iquest serve` (any OpenAI-compatible server on this machine). Standard library only.

N chat requests sent at once from N threads, each on its own connection, alternating streaming
and non-streaming (--stream-fraction), a seeded share of the streams reset by the client after
their first event (--cancel-fraction). Each request ends as one of:

  complete   200 and a whole answer: every choice has a finish_reason (and `data: [DONE]` for a stream)
  refused    503 or 429 with Retry-After and an OpenAI error object, before any response body
  error_end  200, then an OpenAI error (an error event then [DONE], or the JSON error object)
  cancelled  reset by this client on purpose
  unreached  no connection could be made (e.g. the server already stopped after SIGTERM)
  cut        200 and then the body broke off: no finish_reason, no [DONE], no error (the bug)
  failed     anything else (another status, refusal without Retry-After, bad JSON, a timeout)

    tools/overload_burst.py --url http://127.0.0.1:8080 --requests 288 [--max-tokens 8] [--api-key K]
                            [--stream-fraction 0.5] [--cancel-fraction 0] [--seed 0] [--json OUT]
                            [--allow-error-end] [--expect-kv-drain]

Prints the counts and, from GET /metrics after the burst, iquest:requests_rejected_total,
iquest:responses_failed_after_start_total and iquest:kv_blocks_used (after waiting up to 10 s for
the engine to go idle). Exit status 1 when any request was cut or failed, when an error_end
happened without --allow-error-end (nothing should fail in a plain burst), when the refusals on
/metrics do not match the refused count, or, with --expect-kv-drain, when KV blocks stay in use.
The URL's host must be loopback.
"""
import argparse
import http.client
import ipaddress
import json
import random
import socket
import struct
import sys
import threading
import time
import urllib.parse


def loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def reset(sock):
    """Closes with an RST, as a killed client does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


def error_type(obj):
    error = obj.get("error") if isinstance(obj, dict) else None
    return error.get("type") if isinstance(error, dict) else None


def one_request(host, port, key, payload, cancel, timeout):
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.connect()
    except OSError as e:
        return "unreached", f"{type(e).__name__}"
    sock = conn.sock
    try:
        conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
        response = conn.getresponse()
    except (OSError, http.client.HTTPException) as e:
        return "failed", f"no response head: {type(e).__name__}: {e}"
    try:
        if response.status != 200:
            text = response.read()
            try:
                obj = json.loads(text)
            except ValueError:
                obj = None
            if response.status in (503, 429) and response.getheader("Retry-After") and error_type(obj):
                return "refused", str(response.status)
            return "failed", f"HTTP {response.status} retry-after={response.getheader('Retry-After')}: {text[:200]!r}"
        if not payload.get("stream"):
            try:
                text = response.read()
            except http.client.IncompleteRead as e:
                return "cut", f"non-streaming body cut after {len(e.partial)} bytes"
            try:
                obj = json.loads(text)
            except ValueError:
                return "cut", f"non-streaming body is not JSON ({len(text)} bytes)"
            if error_type(obj):
                return "error_end", error_type(obj)
            choices = obj.get("choices") or []
            if choices and all(c.get("finish_reason") for c in choices):
                return "complete", ""
            return "failed", "no finish_reason"
        finished = errored = False
        while True:
            try:
                line = response.readline()
            except (OSError, http.client.HTTPException) as e:
                return ("error_end" if errored else "cut"), f"stream broke: {type(e).__name__}"
            if not line:
                return ("error_end" if errored else "cut"), "stream ended without [DONE]"
            line = line.strip()
            if not line.startswith(b"data: "):
                continue
            data = line[6:]
            if data == b"[DONE]":
                if errored:
                    return "error_end", "error event"
                return ("complete", "") if finished else ("failed", "[DONE] without finish_reason")
            try:
                event = json.loads(data)
            except ValueError:
                return "failed", f"bad event {data[:100]!r}"
            if error_type(event):
                errored = True
            if any(c.get("finish_reason") for c in event.get("choices") or []):
                finished = True
            if cancel:
                reset(sock)
                return "cancelled", ""
    except socket.timeout:
        return "failed", "timeout"
    finally:
        conn.close()


def metrics(host, port, key):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {key}"} if key else {})
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    totals = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        base = name.split("{", 1)[0]
        try:
            totals[base] = totals.get(base, 0.0) + float(value)
            totals[name] = float(value)
        except ValueError:
            pass
    return totals


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--max-tokens", type=int, default=8)
    ap.add_argument("--api-key")
    ap.add_argument("--stream-fraction", type=float, default=0.5)
    ap.add_argument("--cancel-fraction", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--json")
    ap.add_argument("--allow-error-end", action="store_true", help="error_end is expected (e.g. a SIGTERM during the burst)")
    ap.add_argument("--expect-kv-drain", action="store_true")
    args = ap.parse_args()
    parsed = urllib.parse.urlsplit(args.url)
    if not parsed.hostname or not loopback(parsed.hostname):
        print("FAIL: the URL's host must be loopback")
        return 1
    host, port = parsed.hostname, parsed.port or 80
    rng = random.Random(args.seed)
    plans = []
    for i in range(args.requests):
        stream = (i % 100) < args.stream_fraction * 100
        plans.append((stream, stream and rng.random() < args.cancel_fraction))
    before = {}
    try:
        before = metrics(host, port, args.api_key)
    except OSError:
        pass
    results = [None] * args.requests
    barrier = threading.Barrier(args.requests)

    def run(i):
        stream, cancel = plans[i]
        payload = {"messages": [{"role": "user", "content": f"Write a Python one-liner number {i}."}],
                   "max_tokens": args.max_tokens, "temperature": 0, "stream": stream, "ignore_eos": True}
        try:
            barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            pass
        started = time.monotonic()
        outcome, detail = one_request(host, port, args.api_key, payload, cancel, args.timeout)
        results[i] = {"stream": stream, "outcome": outcome, "detail": detail, "seconds": time.monotonic() - started}

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(args.requests)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    counts = {k: 0 for k in ("complete", "refused", "error_end", "cancelled", "unreached", "cut", "failed")}
    for r in results:
        counts[r["outcome"]] += 1
    after = {}
    try:
        for _ in range(100):
            after = metrics(host, port, args.api_key)
            if after.get("iquest:num_requests_running", 0) == 0 and after.get("iquest:kv_blocks_used", 0) == 0:
                break
            time.sleep(0.1)
    except OSError:
        after = {}
    print(f"{args.requests} requests at once ({wall:.1f} s): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for kind in ("cut", "failed", "error_end"):
        details = sorted({r["detail"] for r in results if r["outcome"] == kind})
        if details:
            print(f"  {kind}: " + "; ".join(details[:5]))
    problems = []
    if counts["cut"] or counts["failed"]:
        problems.append(f"{counts['cut']} cut, {counts['failed']} failed")
    if counts["error_end"] and not args.allow_error_end:
        problems.append(f"{counts['error_end']} ended with an error though nothing failed")
    if after:
        rejected = after.get("iquest:requests_rejected_total", 0) - before.get("iquest:requests_rejected_total", 0)
        failed_after = after.get("iquest:responses_failed_after_start_total", 0) - before.get("iquest:responses_failed_after_start_total", 0)
        print(f"  /metrics: requests_rejected_total +{rejected:g}, responses_failed_after_start_total +{failed_after:g}, "
              f"kv_blocks_used {after.get('iquest:kv_blocks_used', 'n/a')}")
        if "iquest:requests_rejected_total" in after and rejected != counts["refused"]:
            problems.append(f"/metrics counts {rejected:g} refusals, the clients saw {counts['refused']}")
        if args.expect_kv_drain and after.get("iquest:kv_blocks_used", 1) != 0:
            problems.append("KV blocks still in use after the burst")
    elif args.expect_kv_drain:
        problems.append("no /metrics after the burst")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"counts": counts, "wall_s": wall, "results": results}, f, indent=1)
    if problems:
        print("FAIL: " + "; ".join(problems))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
