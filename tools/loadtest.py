#!/usr/bin/env python3
"""Load tester for `iquest serve` (any OpenAI-compatible server on this machine). Standard library only.

Timed run (the default): N client threads, each sending one STREAMING request after another for S
seconds, then a report of what they measured and of the server's state before and after:

  tools/loadtest.py --url http://127.0.0.1:PORT --concurrency N --duration S
                    [--endpoint chat|completions] [--prompt-file FILE] [--max-tokens M]
                    [--temperature T] [--ignore-eos] [--cancel-fraction F] [--api-key K] [--seed N]
                    [--model NAME] [--request-timeout S] [--server-pid PID] [--expect-kv-drain]
                    [--json OUT]

Prefix-cache probe (instead of the timed run): K rounds of two requests sharing a unique prefix of
about --prefix-tokens tokens (request A cold, then B with a different question: warm when the
server caches prefixes); prints the time to first token of each, cached_tokens of B and the
median cold/warm ratio (a figure, not an assertion):

  tools/loadtest.py --url http://127.0.0.1:PORT --prefix-test K [--prefix-tokens 1000] [--json OUT]

Requests (timed run)
  * Every request has "stream": true and "stream_options": {"include_usage": true}; temperature 0
    unless --temperature; max_tokens 64 unless --max-tokens; --ignore-eos adds "ignore_eos": true
    (a vLLM/llama.cpp extension `iquest serve` has) so every answer is max_tokens long.
  * Prompts: one per line of --prompt-file (the prompt of /v1/completions, or the user message of
    /v1/chat/completions), else a built-in list of coding prompts; client i takes them round-robin
    starting at line i.
  * --cancel-fraction F: that fraction of the requests (drawn from a seeded RNG, --seed) is abandoned
    by the client after a random number, 1..max_tokens/2, of content chunks: the socket is reset
    (SO_LINGER 0, so the server sees an RST, not an orderly close). Counted as "cancelled", never as
    a failure. A request picked for cancelling that ends before its cancel point counts as ok.
  * Each request uses its own connection and has an overall deadline (--request-timeout, 120 s).
  * A request still running when the duration ends is finished, not cut; the wall time includes it.

Measured per request: TTFT (from starting to connect to the first chunk with content), the gaps
between successive content chunks (ITL), completion tokens (from the usage chunk; for a cancelled
request, the content chunks it received), prompt tokens and usage.prompt_tokens_details.cached_tokens
when the server sends them.

A failure is: a connection error we did not cause, an HTTP status other than 200 (a 503 is counted
and listed as "rejected (503)" instead, but still fails the run), malformed SSE or JSON, an error
event in the stream, a stream without a usage chunk or without `data: [DONE]`, a timeout.

Report: counts (ok / cancelled / rejected 503 / failed), aggregate generated tokens per second
(sum of the completion tokens of the ok and cancelled requests / wall time), TTFT and ITL p50/p99,
mean prompt and cached tokens, and these values from GET /metrics before and after the run ("n/a"
when absent): iquest:kv_blocks_used, iquest:kv_blocks_total, iquest:num_requests_running,
iquest:num_requests_waiting, iquest:prefix_cache_hit_rate, process_resident_memory_bytes (or the
VmRSS of --server-pid when the server does not export it). Before the "after" scrape the tool
waits up to 10 s for iquest:num_requests_running to reach 0, so abandoned requests are reaped.
--json OUT also writes all of it, with one record per request, as JSON.

Exit status: 0 when no request failed or was rejected (and, with --expect-kv-drain,
iquest:kv_blocks_used is present and 0 after the run); 1 otherwise (also for bad arguments, an
unreachable server and a run cut short by Ctrl-C), with one line "FAIL: why". The URL's host must be
loopback (127.0.0.0/8, ::1, localhost). Ctrl-C stops the clients and reports what was measured.
"""
import argparse
import http.client
import ipaddress
import json
import math
import os
import random
import signal
import socket
import statistics
import struct
import sys
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field

DEFAULT_PROMPTS = [
    "Write a Python function that checks whether a string is a palindrome.",
    "Explain what a race condition is, with a short example in Go.",
    "Write a SQL query that returns the ten customers with the highest total order value.",
    "Implement binary search in C and explain its loop invariant.",
    "What does the `?` operator do in Rust? Show an example.",
    "Write a bash one-liner that counts the lines of every .swift file under a directory.",
    "Refactor this JavaScript to use async/await: fetch(url).then(r => r.json()).then(console.log)",
    "Write a Swift struct for a 2D vector with addition and a dot product.",
    "Explain the difference between a process and a thread.",
    "Write a regular expression that matches an IPv4 address and explain each part.",
    "Implement an LRU cache in Python with O(1) get and put.",
    "How do I reverse a linked list in Java? Give iterative code.",
]

# The server state read from GET /metrics before and after a run.
TRACKED_METRICS = [
    "iquest:kv_blocks_used",
    "iquest:kv_blocks_total",
    "iquest:num_requests_running",
    "iquest:num_requests_waiting",
    "iquest:prefix_cache_hit_rate",
    "process_resident_memory_bytes",
]
DRAIN_WAIT_S = 10.0
ENDPOINT_PATHS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}
PREFIX_QUESTIONS = [
    "Question: which function above multiplies by the largest constant? Answer briefly.",
    "Question: summarise in one sentence what the code above computes.",
]


# ---------------------------------------------------------------------------------------------
# Target server


class Target:
    """Where the server is (loopback only) and how to talk to it."""

    def __init__(self, url, api_key, timeout):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "http":
            raise ValueError(f"only http:// URLs are supported, got {url!r}")
        host = parsed.hostname
        if not host or not is_loopback_host(host):
            raise ValueError(f"refusing {url!r}: the host must be loopback (127.0.0.0/8, ::1 or localhost), "
                             f"this tool only loads servers on this machine")
        try:
            self.port = parsed.port or 80
        except ValueError as e:
            raise ValueError(f"bad port in {url!r}: {e}") from None
        self.host = host
        self.base_path = parsed.path.rstrip("/")
        # The OpenAI routes live under /v1; a URL given as http://host:port/v1 must not double it.
        if self.base_path.endswith("/v1"):
            self.base_path = self.base_path[:-3]
        self.api_key = api_key
        self.timeout = timeout
        self.url = url

    def headers(self, body=False):
        h = {"Accept": "text/event-stream, application/json"}
        if body:
            h["Content-Type"] = "application/json"
        if self.api_key:
            h["Authorization"] = f"Bearer {self.api_key}"
        return h

    def get(self, path, timeout=10.0):
        """A small request whose whole answer is read: (status, body text). Raises OSError."""
        return self._simple("GET", path, None, timeout)

    def post_json(self, path, payload, timeout=30.0):
        return self._simple("POST", path, json.dumps(payload).encode(), timeout)

    def _simple(self, method, path, body, timeout):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, self.base_path + path, body=body, headers=self.headers(body is not None))
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            conn.close()


def is_loopback_host(host):
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # other names are not resolved: they could point anywhere
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


# ---------------------------------------------------------------------------------------------
# One streaming request


@dataclass
class RequestResult:
    client: int
    outcome: str = "failed"  # ok | cancelled | rejected | failed | interrupted
    status: int = None
    error: str = None
    started: float = 0.0  # time.monotonic() when the connection was started
    ended: float = 0.0
    ttft: float = None  # seconds to the first content chunk
    first_token: float = None  # seconds to the first content or finish_reason chunk
    itls: list = field(default_factory=list)
    content_chunks: int = 0
    completion_tokens: int = 0
    prompt_tokens: int = None
    cached_tokens: int = None
    cancel_after: int = None  # content chunks after which the client planned to hang up


class StreamProblem(Exception):
    """A stream that breaks the protocol: malformed SSE/JSON, an error event, no [DONE]..."""


def chunk_has_content(event):
    """True when a streamed chunk carries generated text (chat delta or completion text)."""
    for choice in event.get("choices") or []:
        if not isinstance(choice, dict):
            raise StreamProblem(f"choice is not an object: {choice!r}"[:200])
        delta = choice.get("delta")
        if isinstance(delta, dict):
            if delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls"):
                return True
        elif choice.get("text"):
            return True
    return False


def chunk_has_finish(event):
    return any(isinstance(c, dict) and c.get("finish_reason") for c in event.get("choices") or [])


def reset_connection(sock):
    """Closes with an RST (linger 0): the abrupt hang-up of a client that went away."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def stream_request(target, path, payload, result, cancel_after=None, stop_event=None):
    """Sends one streaming request and reads its SSE answer into `result` (filled in place, so
    that a caller interrupted mid-request still holds what was measured)."""
    deadline_timeout = target.timeout
    body = json.dumps(payload).encode()
    result.cancel_after = cancel_after
    result.started = time.monotonic()
    deadline = result.started + deadline_timeout
    conn = http.client.HTTPConnection(target.host, target.port, timeout=deadline_timeout)
    sock = None
    response = None
    try:
        try:
            conn.connect()
            # Our own reference: http.client may hand the socket to the response and drop it.
            sock = conn.sock
            conn.request("POST", target.base_path + path, body=body, headers=target.headers(True))
            response = conn.getresponse()
        except socket.timeout:
            result.error = "timeout before the response head"
            return result
        except (OSError, http.client.HTTPException) as e:
            result.error = f"connection error: {type(e).__name__}: {e}"
            return result
        result.status = response.status
        if response.status != 200:
            try:
                text = response.read(2000).decode("utf-8", "replace")
            except (OSError, http.client.HTTPException):
                text = ""
            result.outcome = "rejected" if response.status == 503 else "failed"
            result.error = f"HTTP {response.status}: {summarise_error(text)}"
            return result

        last_content_at = None
        data_lines = []  # the data: lines of the SSE event being read
        saw_done = saw_usage = False
        while not saw_done:
            if stop_event is not None and stop_event.is_set():
                reset_connection(sock)
                result.outcome, result.error = "interrupted", "stopped by Ctrl-C"
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout()
            sock.settimeout(remaining)
            raw = response.readline()
            if not raw:
                raise StreamProblem("the stream ended without data: [DONE]")
            if not raw.endswith(b"\n"):
                raise StreamProblem(f"the stream ended inside a line: {raw[:120]!r}")
            line = raw.rstrip(b"\r\n").decode("utf-8")
            if line.startswith(":"):
                continue  # an SSE comment, e.g. the server's ": ping" keep-alive
            if line.startswith("data:"):
                data_lines.append(line[5:].removeprefix(" "))
                continue
            if line.split(":", 1)[0] in ("event", "id", "retry"):
                continue
            if line:
                raise StreamProblem(f"not an SSE line: {line[:200]!r}")
            # A blank line ends the event.
            if not data_lines:
                continue
            data = "\n".join(data_lines)
            data_lines = []
            if data == "[DONE]":
                saw_done = True
                break
            now = time.monotonic()
            try:
                event = json.loads(data)
            except json.JSONDecodeError as e:
                raise StreamProblem(f"malformed JSON in the stream ({e}): {data[:200]!r}") from None
            if not isinstance(event, dict):
                raise StreamProblem(f"stream event is not an object: {data[:200]!r}")
            if event.get("error"):
                raise StreamProblem(f"error event: {summarise_error(data)}")
            if chunk_has_content(event):
                result.content_chunks += 1
                if last_content_at is None:
                    result.ttft = now - result.started
                else:
                    result.itls.append(now - last_content_at)
                last_content_at = now
            if result.first_token is None and (last_content_at is not None or chunk_has_finish(event)):
                result.first_token = now - result.started
            usage = event.get("usage")
            if isinstance(usage, dict):
                saw_usage = True
                result.completion_tokens = int(usage.get("completion_tokens") or 0)
                result.prompt_tokens = usage.get("prompt_tokens")
                details = usage.get("prompt_tokens_details")
                if isinstance(details, dict) and details.get("cached_tokens") is not None:
                    result.cached_tokens = int(details["cached_tokens"])
            if cancel_after is not None and result.content_chunks >= cancel_after:
                reset_connection(sock)
                result.outcome = "cancelled"
                result.completion_tokens = result.content_chunks
                return result
        if not saw_usage:
            raise StreamProblem("no usage chunk before [DONE] (stream_options.include_usage was sent)")
        result.outcome = "ok"
        return result
    except socket.timeout:
        result.outcome, result.error = "failed", f"timeout: no complete answer within {deadline_timeout:g} s"
        return result
    except StreamProblem as e:
        result.outcome, result.error = "failed", f"bad stream: {e}"
        return result
    except UnicodeDecodeError as e:
        result.outcome, result.error = "failed", f"bad stream: invalid UTF-8 ({e})"
        return result
    except (OSError, http.client.HTTPException) as e:
        result.outcome, result.error = "failed", f"connection error mid-stream: {type(e).__name__}: {e}"
        return result
    finally:
        result.ended = time.monotonic()
        if response is not None:
            response.close()
        conn.close()
        if sock is not None:
            sock.close()


def summarise_error(text):
    """The message of an OpenAI-style error body, else the start of the text."""
    try:
        error = json.loads(text).get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:200]
        if isinstance(error, str):
            return error[:200]
    except (ValueError, AttributeError):
        pass
    return text.strip()[:200] or "(empty body)"


def request_payload(endpoint, prompt, args, model, max_tokens=None, ignore_eos=None):
    payload = {"stream": True, "stream_options": {"include_usage": True},
               "max_tokens": max_tokens or args.max_tokens, "temperature": args.temperature}
    if model:
        payload["model"] = model
    if endpoint == "chat":
        payload["messages"] = [{"role": "user", "content": prompt}]
    else:
        payload["prompt"] = prompt
    if args.ignore_eos if ignore_eos is None else ignore_eos:
        payload["ignore_eos"] = True
    return payload


# ---------------------------------------------------------------------------------------------
# Server metrics


def parse_prometheus(text):
    """Prometheus text exposition → {metric name: value summed over its label sets}."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, rest = line.split("{", 1)
            rest = rest.rsplit("}", 1)[-1]
        else:
            name, _, rest = line.partition(" ")
        fields = rest.split()  # value [timestamp]
        if not fields:
            continue
        try:
            value = float(fields[0])
        except ValueError:
            continue
        values[name.strip()] = values.get(name.strip(), 0.0) + value
    return values


def read_vmrss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1]) * 1024  # the file gives kB
    except OSError:
        return None
    return None


def scrape_server_state(target, server_pid):
    """The tracked metrics (None when absent) plus where the RSS came from and any scrape error."""
    state = {name: None for name in TRACKED_METRICS}
    info = {"error": None, "rss_source": None}
    try:
        status, text = target.get("/metrics")
        if status == 200:
            scraped = parse_prometheus(text)
            for name in TRACKED_METRICS:
                state[name] = scraped.get(name)
        else:
            info["error"] = f"GET /metrics: HTTP {status}"
    except (OSError, http.client.HTTPException) as e:
        info["error"] = f"GET /metrics: {type(e).__name__}: {e}"
    if state["process_resident_memory_bytes"] is not None:
        info["rss_source"] = "/metrics"
    elif server_pid is not None:
        state["process_resident_memory_bytes"] = read_vmrss_bytes(server_pid)
        if state["process_resident_memory_bytes"] is not None:
            info["rss_source"] = f"/proc/{server_pid}/status VmRSS"
    return state, info


def wait_for_drain(target, limit_s=DRAIN_WAIT_S):
    """Waits until the server reports no running request (or the metric is absent): seconds waited,
    or None when it still had running requests at the limit."""
    started = time.monotonic()
    while True:
        try:
            status, text = target.get("/metrics")
            running = parse_prometheus(text).get("iquest:num_requests_running") if status == 200 else None
        except (OSError, http.client.HTTPException):
            running = None
        waited = time.monotonic() - started
        if running is None or running == 0:
            return waited
        if waited >= limit_s:
            return None
        time.sleep(0.2)


# ---------------------------------------------------------------------------------------------
# Statistics and formatting


def percentile(values, fraction):
    """Linear interpolation between the closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def fmt_ms(seconds):
    return "n/a" if seconds is None else f"{seconds * 1000:.1f} ms"


def fmt_metric(name, value):
    if value is None:
        return "n/a"
    if name == "process_resident_memory_bytes":
        return f"{value / 2**20:.1f} MiB"
    if name == "iquest:prefix_cache_hit_rate":
        return f"{value:.3f}"
    return f"{value:g}"


def summarise(results, wall_s):
    counts = {k: 0 for k in ("ok", "cancelled", "rejected", "failed", "interrupted")}
    for r in results:
        counts[r.outcome] += 1
    # Tokens the server generated for us: usage for finished requests; the chunks a cancelled or
    # interrupted request received (the server may have made a few more before it noticed).
    generated = sum(r.completion_tokens if r.outcome == "ok" else r.content_chunks
                    for r in results if r.outcome in ("ok", "cancelled", "interrupted"))
    with_content = [r for r in results if r.outcome in ("ok", "cancelled", "interrupted")]
    ttfts = [r.ttft for r in with_content if r.ttft is not None]
    itls = [gap for r in with_content for gap in r.itls]
    prompt_tokens = [r.prompt_tokens for r in results if r.prompt_tokens is not None]
    cached = [r.cached_tokens for r in results if r.cached_tokens is not None]
    failures = {}
    for r in results:
        if r.outcome in ("failed", "rejected"):
            failures[r.error] = failures.get(r.error, 0) + 1
    return {
        "requests": len(results), **counts,
        "wall_s": wall_s,
        "generated_tokens": generated,
        "tokens_per_s": generated / wall_s if wall_s > 0 else None,
        "ttft_p50_s": percentile(ttfts, 0.5), "ttft_p99_s": percentile(ttfts, 0.99), "ttft_n": len(ttfts),
        "itl_p50_s": percentile(itls, 0.5), "itl_p99_s": percentile(itls, 0.99), "itl_n": len(itls),
        "prompt_tokens_mean": statistics.fmean(prompt_tokens) if prompt_tokens else None,
        "cached_tokens_mean": statistics.fmean(cached) if cached else None, "cached_tokens_n": len(cached),
        "failure_reasons": [{"reason": k, "count": v} for k, v in sorted(failures.items(), key=lambda kv: -kv[1])],
    }


def print_report(args, summary, before, after, drain):
    s = summary
    print()
    print(f"iquest load test: {args.url}  {args.endpoint}, concurrency {args.concurrency}, {args.duration:g} s, "
          f"max_tokens {args.max_tokens}, cancel fraction {args.cancel_fraction:g}"
          f"{', ignore_eos' if args.ignore_eos else ''}, temperature {args.temperature:g}")
    print(f"  requests        {s['requests']}: ok {s['ok']}, cancelled (intended) {s['cancelled']}, "
          f"rejected (503) {s['rejected']}, failed {s['failed']}"
          + (f", interrupted {s['interrupted']}" if s["interrupted"] else ""))
    print(f"  wall time       {s['wall_s']:.2f} s")
    rate = "n/a" if s["tokens_per_s"] is None else f"{s['tokens_per_s']:.1f}"
    print(f"  generated       {s['generated_tokens']} tokens, {rate} tokens/s aggregate")
    print(f"  TTFT            p50 {fmt_ms(s['ttft_p50_s'])}, p99 {fmt_ms(s['ttft_p99_s'])}  ({s['ttft_n']} requests)")
    print(f"  ITL             p50 {fmt_ms(s['itl_p50_s'])}, p99 {fmt_ms(s['itl_p99_s'])}  ({s['itl_n']} gaps)")
    mean_prompt = "n/a" if s["prompt_tokens_mean"] is None else f"{s['prompt_tokens_mean']:.1f}"
    mean_cached = "n/a" if s["cached_tokens_mean"] is None else f"{s['cached_tokens_mean']:.1f} ({s['cached_tokens_n']} reported)"
    print(f"  prompt tokens   mean {mean_prompt}; cached tokens mean {mean_cached}")
    print_metrics_table(before, after)
    if drain["waited_s"] is None:
        print(f"  (iquest:num_requests_running was still above 0 after {DRAIN_WAIT_S:g} s)")
    elif drain.get("skipped"):
        print("  (interrupted: the after-scrape did not wait for running requests to drain)")
    if s["failure_reasons"]:
        print("  failures:")
        for item in s["failure_reasons"][:20]:
            print(f"    {item['count']:5d} x {item['reason']}")
        if len(s["failure_reasons"]) > 20:
            print(f"    ... and {len(s['failure_reasons']) - 20} other reasons (see --json)")


def print_metrics_table(before, after):
    (state_before, info_before), (state_after, info_after) = before, after
    print(f"  {'server (/metrics)':32s} {'before':>12s} {'after':>12s}")
    for name in TRACKED_METRICS:
        print(f"  {name:32s} {fmt_metric(name, state_before[name]):>12s} {fmt_metric(name, state_after[name]):>12s}")
    for label, info in (("before", info_before), ("after", info_after)):
        if info["error"]:
            print(f"  (scrape {label}: {info['error']})")
    if info_after["rss_source"] and info_after["rss_source"] != "/metrics":
        print(f"  (resident memory from {info_after['rss_source']})")


def write_json(path, document):
    with open(path, "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")


# ---------------------------------------------------------------------------------------------
# Timed run


def client_loop(index, target, args, model, prompts, end_at, stop_event, results, lock):
    """One client: sends streaming requests back to back until end_at (or Ctrl-C)."""
    # A generator per client, derived from --seed: the cancel choices repeat from run to run.
    rng = random.Random(args.seed * 1_000_003 + index)
    path = ENDPOINT_PATHS[args.endpoint]
    sent = 0
    while time.monotonic() < end_at and not stop_event.is_set():
        prompt = prompts[(index + sent) % len(prompts)]
        sent += 1
        cancel_after = None
        if args.cancel_fraction > 0 and rng.random() < args.cancel_fraction:
            cancel_after = rng.randint(1, max(1, args.max_tokens // 2))
        result = RequestResult(client=index)
        with lock:
            results.append(result)  # listed before it ends, so Ctrl-C reports it too
        stream_request(target, path, request_payload(args.endpoint, prompt, args, model), result,
                       cancel_after=cancel_after, stop_event=stop_event)
        if result.error and result.error.startswith("connection error"):
            time.sleep(0.1)  # a server that refuses connections would otherwise be hammered


def run_timed(args, target, model, prompts):
    before = scrape_server_state(target, args.server_pid)
    stop_event = threading.Event()
    results, lock = [], threading.Lock()
    interrupted = threading.Event()

    def on_sigint(signum, frame):
        interrupted.set()
        stop_event.set()
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C kills the tool outright

    signal.signal(signal.SIGINT, on_sigint)
    started = time.monotonic()
    end_at = started + args.duration
    threads = [threading.Thread(target=client_loop, name=f"client-{i}", daemon=True,
                                args=(i, target, args, model, prompts, end_at, stop_event, results, lock))
               for i in range(args.concurrency)]
    for t in threads:
        t.start()
    # Join in slices so the SIGINT handler runs promptly; after Ctrl-C give the clients 2 s to
    # notice (a client blocked on a silent server keeps its thread, which is a daemon).
    give_up_at = None
    while True:
        alive = [t for t in threads if t.is_alive()]
        if not alive:
            break
        if interrupted.is_set() and give_up_at is None:
            give_up_at = time.monotonic() + 2.0
        if give_up_at is not None and time.monotonic() > give_up_at:
            break
        alive[0].join(0.1)
    wall = time.monotonic() - started
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    with lock:
        snapshot = list(results)
    for r in snapshot:
        if r.ended == 0.0:  # still in flight when we stopped waiting
            r.outcome, r.error = "interrupted", "still running when the tool stopped"
    if interrupted.is_set():
        drain = {"waited_s": 0.0, "skipped": True}
    else:
        drain = {"waited_s": wait_for_drain(target)}
    after = scrape_server_state(target, args.server_pid)
    summary = summarise(snapshot, wall)
    print_report(args, summary, before, after, drain)

    problems = []
    if summary["failed"] or summary["rejected"]:
        reasons = "; ".join(f"{i['count']} x {i['reason']}" for i in summary["failure_reasons"][:3])
        problems.append(f"{summary['failed'] + summary['rejected']} request(s) failed "
                        f"({summary['rejected']} rejected with 503): {reasons}")
    if summary["requests"] == 0:
        problems.append("no request was sent")
    if args.expect_kv_drain:
        used = after[0]["iquest:kv_blocks_used"]
        if used is None:
            problems.append("--expect-kv-drain: iquest:kv_blocks_used is missing from /metrics")
        elif used != 0:
            problems.append(f"--expect-kv-drain: iquest:kv_blocks_used is {used:g} after the run, not 0")
    if interrupted.is_set():
        problems.append(f"interrupted by Ctrl-C after {wall:.1f} s of {args.duration:g} s (the figures cover the run so far)")

    if args.json:
        write_json(args.json, {
            "mode": "timed", "config": config_dict(args, model), "summary": summary,
            "server_before": before[0], "server_after": after[0],
            "scrape_errors": {"before": before[1]["error"], "after": after[1]["error"]},
            "rss_source": after[1]["rss_source"], "drain_wait_s": drain["waited_s"],
            "interrupted": interrupted.is_set(), "passed": not problems, "problems": problems,
            "requests": [request_record(r, started) for r in snapshot],
        })
    return problems


def request_record(r, run_started):
    record = asdict(r)
    record.pop("itls")
    record["itl_mean_s"] = statistics.fmean(r.itls) if r.itls else None
    record["started"] = r.started - run_started
    record["ended"] = r.ended - run_started if r.ended else None
    return record


def config_dict(args, model):
    config = {k: v for k, v in vars(args).items() if k != "api_key"}
    config["model"] = model
    config["api_key_given"] = bool(args.api_key)
    return config


# ---------------------------------------------------------------------------------------------
# Prefix-cache probe


def count_tokens(target, text):
    """Token count from POST /tokenize (iquest and vLLM shape), or None when the server lacks it."""
    try:
        status, body = target.post_json("/tokenize", {"prompt": text, "add_special_tokens": False})
        if status == 200:
            return int(json.loads(body)["count"])
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
        pass
    return None


def prefix_text(tag, lines):
    """Numbered pseudo-code lines tagged with this round's random tag (so no round shares a prefix)."""
    body = [f"# listing {tag}: helper functions, read them before answering"]
    for i in range(lines):
        body.append(f"{i:04d}  def step_{tag}_{i}(x): return (x * {i % 13 + 2} + {i * 7 % 31}) % {97 + i % 5}")
    return "\n".join(body) + "\n\n"


def build_prefix(target, tag, target_tokens):
    """A prefix of about target_tokens tokens: (text, token count, whether the count is measured)."""
    lines = max(1, target_tokens // 30)  # a first guess; the tokenizer corrects it
    for _ in range(4):
        text = prefix_text(tag, lines)
        counted = count_tokens(target, text)
        if counted is None:
            break
        if abs(counted - target_tokens) <= max(20, target_tokens // 50):
            return text, counted, True
        lines = max(1, round(lines * target_tokens / counted))
    else:
        text = prefix_text(tag, lines)
        counted = count_tokens(target, text)
        if counted is not None:
            return text, counted, True
    # No /tokenize: size it by characters (about 3.5 per token for this kind of text).
    lines = max(1, round(lines * target_tokens / max(1, len(prefix_text(tag, lines)) / 3.5)))
    text = prefix_text(tag, lines)
    return text, round(len(text) / 3.5), False


def run_prefix_test(args, target, model):
    rng = random.Random(args.seed)
    path = ENDPOINT_PATHS[args.endpoint]
    before = scrape_server_state(target, args.server_pid)
    rounds, problems = [], []
    print(f"prefix-cache probe: {args.url}  {args.endpoint}, {args.prefix_test} rounds, "
          f"prefix of about {args.prefix_tokens} tokens, max_tokens 1")
    for round_index in range(args.prefix_test):
        tag = f"{rng.getrandbits(40):010x}"
        prefix, prefix_tokens, measured = build_prefix(target, tag, args.prefix_tokens)
        measured_pair = []
        for question in PREFIX_QUESTIONS:
            # ignore_eos: the one token must not be an end-of-sequence with no text to time.
            payload = request_payload(args.endpoint, prefix + question, args, model, max_tokens=1, ignore_eos=True)
            result = RequestResult(client=0)
            stream_request(target, path, payload, result)
            measured_pair.append(result)
        cold, warm = measured_pair
        bad = [r for r in measured_pair if r.outcome != "ok"]
        record = {
            "round": round_index + 1, "tag": tag, "prefix_tokens": prefix_tokens, "prefix_tokens_measured": measured,
            # The time to the first token; with max_tokens 1 a token without text still ends the
            # stream with a finish_reason chunk, which then marks it.
            "cold_ttft_s": cold.first_token, "warm_ttft_s": warm.first_token,
            "cold_prompt_tokens": cold.prompt_tokens, "warm_prompt_tokens": warm.prompt_tokens,
            "cold_cached_tokens": cold.cached_tokens, "warm_cached_tokens": warm.cached_tokens,
            "errors": [r.error for r in bad],
        }
        rounds.append(record)
        cached = "n/a" if warm.cached_tokens is None else str(warm.cached_tokens)
        print(f"  round {round_index + 1}: prefix {prefix_tokens}{'' if measured else ' (approx.)'} tokens, "
              f"cold TTFT {fmt_ms(cold.first_token)}, warm TTFT {fmt_ms(warm.first_token)}, "
              f"B cached_tokens {cached}" + (f"  ERROR: {'; '.join(record['errors'])}" if bad else ""))
        if bad:
            problems.append(f"round {round_index + 1}: {'; '.join(record['errors'])}")
    drain = wait_for_drain(target)
    after = scrape_server_state(target, args.server_pid)
    colds = [r["cold_ttft_s"] for r in rounds if r["cold_ttft_s"] is not None and not r["errors"]]
    warms = [r["warm_ttft_s"] for r in rounds if r["warm_ttft_s"] is not None and not r["errors"]]
    cached_b = [r["warm_cached_tokens"] for r in rounds if r["warm_cached_tokens"] is not None]
    median_cold = statistics.median(colds) if colds else None
    median_warm = statistics.median(warms) if warms else None
    ratio = median_cold / median_warm if median_cold and median_warm else None
    print(f"  median TTFT cold {fmt_ms(median_cold)}, warm {fmt_ms(median_warm)}, cold/warm "
          f"{'n/a' if ratio is None else f'{ratio:.2f}x'}; B cached_tokens median "
          f"{'n/a' if not cached_b else statistics.median(cached_b)}")
    print_metrics_table(before, after)
    if args.json:
        write_json(args.json, {
            "mode": "prefix-test", "config": config_dict(args, model), "rounds": rounds,
            "median_cold_ttft_s": median_cold, "median_warm_ttft_s": median_warm, "cold_over_warm": ratio,
            "median_warm_cached_tokens": statistics.median(cached_b) if cached_b else None,
            "server_before": before[0], "server_after": after[0], "drain_wait_s": drain,
            "passed": not problems, "problems": problems,
        })
    return problems


# ---------------------------------------------------------------------------------------------
# Command line


def bounded(kind, low, high):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {text}")
        return value
    return parse


class ArgumentParser(argparse.ArgumentParser):
    """Usage errors exit 1 like every other failure (argparse's own convention is 2)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"FAIL: {message}")
        sys.exit(1)


def parse_args(argv):
    ap = ArgumentParser(description="Load tester for iquest serve (OpenAI-compatible streaming).",
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="See the module docstring (head of this file) for what is measured.")
    ap.add_argument("--url", required=True, help="server base URL, loopback only, e.g. http://127.0.0.1:8080")
    ap.add_argument("--concurrency", type=bounded(int, 1, 256), default=4, help="client threads (1..256, default 4)")
    ap.add_argument("--duration", type=bounded(float, 1, 3600), default=20, help="seconds of load (1..3600, default 20)")
    ap.add_argument("--endpoint", choices=sorted(ENDPOINT_PATHS), default="chat")
    ap.add_argument("--prompt-file", help="one prompt per line (default: built-in coding prompts)")
    ap.add_argument("--max-tokens", type=bounded(int, 1, 1_000_000), default=64)
    ap.add_argument("--temperature", type=bounded(float, 0, 2), default=0.0)
    ap.add_argument("--ignore-eos", action="store_true", help='send "ignore_eos": true (fixed-length answers)')
    ap.add_argument("--cancel-fraction", type=bounded(float, 0, 1), default=0.0,
                    help="fraction of requests the client abandons mid-stream (0..1)")
    ap.add_argument("--api-key", default=os.environ.get("IQUEST_API_KEY"), help="Bearer key (default $IQUEST_API_KEY)")
    ap.add_argument("--model", help="model field to send (default: the first id of GET /v1/models)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the cancel choices and prefix tags")
    ap.add_argument("--request-timeout", type=bounded(float, 1, 3600), default=120.0,
                    help="overall limit of one request in seconds (default 120)")
    ap.add_argument("--server-pid", type=int, help="read the server's VmRSS from /proc when /metrics lacks it")
    ap.add_argument("--expect-kv-drain", action="store_true",
                    help="fail unless iquest:kv_blocks_used is present and 0 after the run")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--prefix-test", type=bounded(int, 1, 1000), metavar="K",
                    help="run the prefix-cache probe K rounds instead of the timed run")
    ap.add_argument("--prefix-tokens", type=bounded(int, 16, 100_000), default=1000,
                    help="shared prefix length of the probe in tokens (default 1000)")
    return ap.parse_args(argv)


def load_prompts(path):
    if not path:
        return DEFAULT_PROMPTS
    with open(path, encoding="utf-8") as f:
        prompts = [line.rstrip("\r\n") for line in f if line.strip()]
    if not prompts:
        raise ValueError(f"{path} has no non-empty line")
    return prompts


def preflight(target):
    """Checks that the server answers and takes our key; returns its first model id (None when
    unlisted). Raises ConnectionError with a readable message when the server cannot be used."""
    try:
        status, body = target.get("/v1/models")
        # iquest serves /v1/models without a key; /metrics needs it, so it tells whether ours is right.
        metrics_status, _ = target.get("/metrics")
    except (OSError, http.client.HTTPException) as e:
        raise ConnectionError(f"cannot reach the server at {target.url}: {type(e).__name__}: {e}") from None
    if 401 in (status, metrics_status):
        given = "the API key given was refused" if target.api_key else "it wants an API key"
        raise ConnectionError(f"the server at {target.url} answers 401: {given} (--api-key)")
    if status != 200:
        return None
    try:
        return json.loads(body)["data"][0]["id"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        target = Target(args.url, args.api_key, args.request_timeout)
        prompts = load_prompts(args.prompt_file)
    except (ValueError, OSError) as e:
        print(f"FAIL: {e}")
        return 1
    try:
        model = preflight(target)
        model = args.model or model
    except ConnectionError as e:
        print(f"FAIL: {e}")
        return 1
    if args.prefix_test:
        try:
            problems = run_prefix_test(args, target, model)
        except KeyboardInterrupt:
            print("FAIL: interrupted by Ctrl-C (the rounds above are what was measured)")
            return 1
    else:
        problems = run_timed(args, target, model, prompts)
    if args.json:
        print(f"  results written to {args.json}")
    if problems:
        print("FAIL: " + "; ".join(problems))
        return 1
    print("PASS" + (": the prefix probe ran" if args.prefix_test else ": no request failed"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
