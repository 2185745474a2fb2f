#!/usr/bin/env python3
"""Live test of `iquest serve`: starts the server on a real model and drives it with the official
`openai` Python client (typed response models), curl and a raw socket; live_protocols.py adds the
`anthropic` and `ollama` clients and the Responses and /infill routes.

    tools/live_server_test.py --binary .build/release/iquest --model ~/.cache/iquest/smollm2/...gguf

Each check prints one line; the exit status is 1 when any check failed. Run by tools/test.sh
(through tools/live_server_test.sh, which creates the client's virtual environment).
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import openai

import live_protocols
import live_structured

KEY = "live-test-key"
failures = []


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {detail}"), flush=True)
    if not condition:
        failures.append(name)


def start_server(binary, model, threads, extra=()):
    proc = subprocess.Popen([binary, "serve", "-m", model, "--port", "0", "--api-key", KEY, "--threads", str(threads),
                             "--served-model-name", "smollm2", "smol-alias", "--max-model-len", "2048", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port = None
    lines = []
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"listening on http://[^:]+:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        proc.kill()
        sys.exit("server did not start:\n" + "".join(lines))
    # Keep draining stderr so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [lines.append(l) for l in proc.stderr], daemon=True).start()
    return proc, port, lines


def curl(*args):
    return subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=120)


def wait_healthy(base):
    deadline = time.time() + 120
    while time.time() < deadline:
        r = curl("-o", "/dev/null", "-w", "%{http_code}", f"{base}/health")
        if r.stdout == "200":
            return True
        time.sleep(0.2)
    return False


def raw_request(port, path, body: bytes, key=KEY):
    """Sends a request on a raw socket and returns (status, body text)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        s.sendall(head + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest.decode("utf-8", "replace")


def metric(base, name):
    text = curl("-H", f"Authorization: Bearer {KEY}", f"{base}/metrics").stdout
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total, text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    proc, port, log = start_server(args.binary, args.model, args.threads)
    base = f"http://127.0.0.1:{port}"
    try:
        check("health becomes 200 (curl)", wait_healthy(base), "".join(log[-5:]))
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=KEY, max_retries=0, timeout=120)
        messages = [{"role": "user", "content": "Write a Python function that adds two numbers."}]

        models = client.models.list()
        check("models.list typed, aliases listed", [m.id for m in models.data] == ["smollm2", "smol-alias"], models)
        live_protocols.run(base, KEY, check)
        live_structured.run(client, check)

        started = time.time()
        chat = client.chat.completions.create(model="smollm2", messages=messages, max_tokens=24, temperature=0)
        # Tokens per second including prefill: a lower bound of the decode rate.
        rate = chat.usage.completion_tokens / (time.time() - started)
        text = chat.choices[0].message.content or ""
        check("chat non-streaming", chat.object == "chat.completion" and len(text) > 0 and chat.choices[0].finish_reason in ("stop", "length"),
              chat)
        check("chat usage", chat.usage.completion_tokens > 0 and chat.usage.total_tokens == chat.usage.prompt_tokens + chat.usage.completion_tokens,
              chat.usage)

        stream = client.chat.completions.create(model="smollm2", messages=messages, max_tokens=24, temperature=0, stream=True,
                                                stream_options={"include_usage": True})
        pieces, finish, usage, roles = [], None, None, []
        for chunk in stream:
            if chunk.usage:
                usage = chunk.usage
            for c in chunk.choices:
                if c.delta.role:
                    roles.append(c.delta.role)
                if c.delta.content:
                    pieces.append(c.delta.content)
                if c.finish_reason:
                    finish = c.finish_reason
        check("chat streaming equals non-streaming (greedy)", "".join(pieces) == text, ("".join(pieces), text))
        check("chat streaming role, finish, usage", roles == ["assistant"] and finish == chat.choices[0].finish_reason
              and usage is not None and usage.completion_tokens == chat.usage.completion_tokens, (roles, finish, usage))

        comp = client.completions.create(model="smollm2", prompt="def fibonacci(n):", max_tokens=16, temperature=0)
        check("completions", comp.object == "text_completion" and len(comp.choices[0].text) > 0, comp)
        stop = client.completions.create(model="smollm2", prompt="def fibonacci(n):", max_tokens=64, temperature=0, stop=["\n"])
        check("stop string", "\n" not in stop.choices[0].text and stop.choices[0].finish_reason == "stop"
              and comp.choices[0].text.startswith(stop.choices[0].text), stop)

        sampled = [client.chat.completions.create(model="smollm2", messages=messages, max_tokens=24, temperature=1.0, seed=1234)
                   .choices[0].message.content for _ in range(2)]
        check("seed reproducibility", sampled[0] == sampled[1], sampled)

        lp = client.chat.completions.create(model="smollm2", messages=messages, max_tokens=8, temperature=0, logprobs=True, top_logprobs=3)
        content = lp.choices[0].logprobs.content
        check("logprobs", len(content) == lp.usage.completion_tokens and all(
            len(t.top_logprobs) == 3 and t.logprob <= 0 and abs(t.top_logprobs[0].logprob - t.logprob) < 1e-4 for t in content),
            content[:2])

        two = client.chat.completions.create(model="smollm2", messages=messages, max_tokens=8, temperature=0.8, n=2, seed=5)
        check("n=2", [c.index for c in two.choices] == [0, 1], two)

        try:
            client.chat.completions.create(model="smollm2", messages=messages, temperature=7)
            check("error: temperature out of range is 400", False, "no error")
        except openai.BadRequestError as e:
            check("error: temperature out of range is 400", e.status_code == 400 and e.body.get("param") == "temperature", e.body)
        try:
            client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "word " * 3000}])
            check("error: prompt longer than the context is 400", False, "no error")
        except openai.BadRequestError as e:
            check("error: prompt longer than the context is 400", "2048" in e.message, e.message)
        try:
            openai.OpenAI(base_url=f"{base}/v1", api_key="wrong", max_retries=0).chat.completions.create(model="smollm2", messages=messages)
            check("error: wrong API key is 401", False, "no error")
        except openai.AuthenticationError as e:
            check("error: wrong API key is 401", e.status_code == 401, e)

        # SSE wire format with curl.
        body = json.dumps({"model": "smollm2", "messages": messages, "max_tokens": 4, "stream": True})
        r = curl("-N", "-H", f"Authorization: Bearer {KEY}", "-H", "Content-Type: application/json", "-d", body,
                 f"{base}/v1/chat/completions")
        blocks = [b for b in r.stdout.split("\n\n") if b]
        check("SSE wire format (curl)", blocks and all(b.startswith("data: ") or b.startswith(":") for b in blocks)
              and blocks[-1] == "data: [DONE]" and r.stdout.endswith("\n\n"), r.stdout[-300:])

        # Bad input on raw sockets: the server answers and keeps serving.
        status, text400 = raw_request(port, "/v1/chat/completions", b"{\"messages\": [")
        check("malformed JSON is 400", status == 400 and "invalid_request_error" in text400, (status, text400))
        status, _ = raw_request(port, "/v1/chat/completions", b"{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}]}")
        check("invalid UTF-8 is 400", status == 400, status)

        # A client that disconnects mid-stream: the generation stops (the engine is free again long
        # before 1500 tokens could have been made at the measured rate), the server keeps serving.
        before, _ = metric(base, 'iquest:request_success_total{finished_reason="abort"}')
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            payload = json.dumps({"model": "smollm2", "messages": messages, "max_tokens": 1500, "stream": True,
                                  "temperature": 0.8, "min_p": 0, "ignore_eos": True}).encode()
            s.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       f"Authorization: Bearer {KEY}\r\nContent-Length: {len(payload)}\r\n\r\n").encode() + payload)
            got = b""
            while got.count(b"data: ") < 3:
                got += s.recv(4096)
        closed = time.time()
        full = 1500 / rate
        after, running = before, 1.0
        while time.time() - closed < full and (after <= before or running > 0):
            time.sleep(0.1)
            after, _ = metric(base, 'iquest:request_success_total{finished_reason="abort"}')
            running, _ = metric(base, "iquest:num_requests_running")
        stopped = time.time() - closed
        check("client disconnect stops the generation", after == before + 1 and running == 0 and stopped < 0.25 * full,
              (before, after, running, f"{stopped:.1f} s vs {full:.1f} s for the whole generation"))
        # The same for a non-streaming request: the whitespace heartbeat notices the closed socket.
        before = after
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            # ignore_eos: the answer to this short prompt can end (EOS) within the ~1-2 s the
            # heartbeat needs to notice the closed socket; the check needs a generation that runs on.
            payload = json.dumps({"model": "smollm2", "messages": messages, "max_tokens": 1500,
                                  "temperature": 0.8, "min_p": 0, "ignore_eos": True}).encode()
            s.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       f"Authorization: Bearer {KEY}\r\nContent-Length: {len(payload)}\r\n\r\n").encode() + payload)
            s.recv(1024)  # the response head: the request is running
        closed = time.time()
        after, running = before, 1.0
        while time.time() - closed < full and (after <= before or running > 0):
            time.sleep(0.1)
            after, _ = metric(base, 'iquest:request_success_total{finished_reason="abort"}')
            running, _ = metric(base, "iquest:num_requests_running")
        stopped = time.time() - closed
        # The heartbeat writes once a second and the closed socket shows at the second write after
        # the close, so noticing takes up to ~2 s whatever the model's speed: the bound is a quarter
        # of the whole generation or 3 s, whichever is longer (SmolLM2 at ~200 t/s: 7 s in all; a
        # generation that ran on would count as "length", not "abort").
        check("client disconnect stops a non-streaming generation",
              after == before + 1 and running == 0 and stopped < max(0.25 * full, 3.0) < full,
              (before, after, running, f"{stopped:.1f} s vs {full:.1f} s for the whole generation"))
        again = client.chat.completions.create(model="smollm2", messages=messages, max_tokens=24, temperature=0)
        check("serving after the disconnect", again.choices[0].message.content == text, again)

        prom, text = metric(base, "iquest:prompt_tokens_total")
        check("metrics (curl)", prom > 0 and "iquest:time_to_first_token_seconds_bucket" in text
              and "iquest:http_requests_total" in text, text[:400])

        # Load: tools/loadtest.py's 4 streaming clients for 8 s, a quarter of the requests abandoned
        # mid-stream by the client (those are not failures); nothing may fail or be rejected.
        loadtest = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loadtest.py")
        with tempfile.TemporaryDirectory() as scratch:
            report_path = os.path.join(scratch, "loadtest.json")
            run = subprocess.run([sys.executable, loadtest, "--url", base, "--api-key", KEY, "--concurrency", "4",
                                  "--duration", "8", "--max-tokens", "16", "--cancel-fraction", "0.25", "--ignore-eos",
                                  "--expect-kv-drain", "--json", report_path], capture_output=True, text=True, timeout=300)
            summary = None
            if os.path.exists(report_path):
                with open(report_path) as f:
                    summary = json.load(f)["summary"]
        check("load test: 4 clients, 8 s, 25% cancelled, KV blocks back to 0 (tools/loadtest.py)",
              run.returncode == 0 and summary is not None and summary["failed"] == 0 and summary["rejected"] == 0
              and summary["ok"] > 0, (run.returncode, run.stdout[-2000:], run.stderr[-1000:]))

        # Prefix cache: the same long system prompt twice; the second request reuses its blocks.
        system = "You are a careful Python reviewer. " + " ".join(f"Rule {i}: keep functions short and named clearly." for i in range(40))
        shared = [{"role": "system", "content": system}, {"role": "user", "content": "Review: def f(x): return x*2"}]
        first = client.chat.completions.create(model="smollm2", messages=shared, max_tokens=4, temperature=0)
        second = client.chat.completions.create(model="smollm2", messages=shared[:1] + [{"role": "user", "content": "Review: def g(): pass"}],
                                                max_tokens=4, temperature=0)
        cached = second.usage.prompt_tokens_details.cached_tokens if second.usage.prompt_tokens_details else None
        check("prefix cache: usage.prompt_tokens_details.cached_tokens", first.usage.prompt_tokens > 300 and cached is not None
              and cached >= 256 and cached % 16 == 0 and cached < second.usage.prompt_tokens, (first.usage, second.usage))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = None
        check("SIGTERM stops the server gracefully", code == 0, code)
    check_queue_limit(args)
    check_context_refusal(args)
    check_overload_bursts(args)
    check_sigterm_under_load(args)
    if failures:
        print(f"{len(failures)} live check(s) failed: {failures}")
        sys.exit(1)
    print("all live checks passed")


def check_queue_limit(args):
    """One slot and one waiting place: of four overlapping requests, the ones past the queue get
    503 with Retry-After at once; the others complete, and the server serves afterwards."""
    proc, port, log = start_server(args.binary, args.model, args.threads, ["--max-num-seqs", "1", "--max-queue", "1"])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        results = [None] * 4

        def send(i):
            body = json.dumps({"messages": [{"role": "user", "content": "Count to one hundred."}], "max_tokens": 200,
                               "ignore_eos": True, "temperature": 0}).encode()
            request = urllib.request.Request(f"{base}/v1/chat/completions", data=body, method="POST",
                                             headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
            try:
                with urllib.request.urlopen(request, timeout=120) as r:
                    results[i] = (r.status, None, json.loads(r.read()))
            except urllib.error.HTTPError as e:
                results[i] = (e.code, e.headers.get("Retry-After"), json.loads(e.read() or b"{}"))

        threads = []
        for i in range(4):
            t = threading.Thread(target=send, args=(i,))
            t.start()
            threads.append(t)
            time.sleep(0.4)
        for t in threads:
            t.join(timeout=180)
        statuses = [r[0] if r else None for r in results]
        rejected = [r for r in results if r and r[0] == 503]
        check("queue full: 503 with Retry-After, the admitted requests complete",
              statuses.count(200) >= 2 and len(rejected) >= 1
              and all(r[1] is not None and r[2].get("error", {}).get("type") == "service_unavailable" for r in rejected),
              results)
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=KEY, max_retries=0, timeout=120)
        after = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
        check("serving after the queue emptied", after.choices[0].finish_reason in ("stop", "length"), after)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def check_context_refusal(args):
    """A context the KV cache cannot hold is refused at start, with the numbers, and the process
    exits non-zero instead of serving (8192 tokens as f16 need 180 MiB on SmolLM2; 1 MiB is given)."""
    proc = subprocess.run([args.binary, "serve", "-m", args.model, "--port", "0", "--threads", str(args.threads),
                           "--max-model-len", "8192", "--kv-cache-memory", "1MiB"],
                          capture_output=True, text=True, timeout=120)
    check("a context that cannot fit is refused at start", proc.returncode != 0
          and "a context of 8192 tokens needs" in proc.stderr and "holds" in proc.stderr, proc.stderr[-600:])


def run_burst(base, requests, extra=(), timeout=600):
    """tools/overload_burst.py against `base`; (exit status, counts, output)."""
    burst = os.path.join(os.path.dirname(os.path.abspath(__file__)), "overload_burst.py")
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "burst.json")
        run = subprocess.run([sys.executable, burst, "--url", base, "--api-key", KEY, "--requests", str(requests),
                              "--json", out, *extra], capture_output=True, text=True, timeout=timeout)
        counts = None
        if os.path.exists(out):
            with open(out) as f:
                counts = json.load(f)["counts"]
    return run.returncode, counts, run.stdout[-1500:] + run.stderr[-500:]


def check_overload_bursts(args):
    """The issue's case: default limits (16 running + 128 waiting = 144 places), 200 and 300
    chat requests at once, half streaming: every one complete or refused with Retry-After,
    none cut, /metrics agrees, the KV pool drains."""
    proc, port, log = start_server(args.binary, args.model, args.threads)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        for n in (200, 300):
            code, counts, output = run_burst(base, n, ["--max-tokens", "8", "--cancel-fraction", "0.1", "--expect-kv-drain"])
            print(output.strip().splitlines()[0] if output.strip() else "(no output)", flush=True)
            check(f"overload: {n} at once on 144 places, nothing cut", code == 0 and counts is not None and counts["cut"] == 0
                  and counts["complete"] + counts["refused"] + counts["cancelled"] == n and counts["refused"] > 0, output)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def check_sigterm_under_load(args):
    """SIGTERM during a burst: admission closes, running requests get a 1 s grace period, the
    rest end with an error event or JSON error object; no response is cut, the server exits 0."""
    proc, port, log = start_server(args.binary, args.model, args.threads,
                                   ["--max-num-seqs", "4", "--max-queue", "8", "--shutdown-grace-period", "1"])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        result = {}

        def burst():
            result["run"] = run_burst(base, 40, ["--max-tokens", "400", "--allow-error-end"])

        t = threading.Thread(target=burst)
        t.start()
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = None
        t.join(timeout=120)
        _, counts, output = result.get("run", (None, None, "burst did not finish"))
        print(output.strip().splitlines()[0] if output.strip() else "(no output)", flush=True)
        check("SIGTERM under load: nothing cut, unfinished requests end with an error, exit 0",
              code == 0 and counts is not None and counts["cut"] == 0 and counts["failed"] == 0 and counts["error_end"] > 0,
              (code, output))
    finally:
        if proc.poll() is None:
            proc.kill()


if __name__ == "__main__":
    main()
