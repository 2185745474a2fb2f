"""Live checks of the Anthropic Messages, OpenAI Responses, Ollama and /infill routes with the
official clients from PyPI (anthropic, openai, ollama), run by live_server_test.py against its
running `iquest serve`. At temperature 0 each protocol's streamed and whole answers must agree."""
import json
import urllib.error
import urllib.request

import anthropic
import ollama
import openai

PROMPT = "Write a Python function that adds two numbers."
# anthropic 2.x has no sampling parameters; values sent in the body are still honoured.
T0 = {"temperature": 0}
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def run(base, key, check):
    check_anthropic(base, key, check)
    check_responses(base, key, check)
    check_ollama(base, key, check)
    check_infill(base, key, check)


def check_anthropic(base, key, check):
    client = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0, timeout=120)
    messages = [{"role": "user", "content": PROMPT}]
    msg = client.messages.create(model="claude-sonnet-4-5", max_tokens=24, extra_body=T0, messages=messages)
    text = "".join(b.text for b in msg.content if b.type == "text")
    check("anthropic messages.create typed", msg.type == "message" and text and msg.model == "claude-sonnet-4-5"
          and msg.stop_reason in ("end_turn", "max_tokens") and msg.usage.output_tokens > 0, msg)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=24, extra_body=T0, messages=messages) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    check("anthropic messages.stream equals create at temperature 0", streamed == text and final.stop_reason == msg.stop_reason,
          f"{streamed!r} vs {text!r}")
    count = client.messages.count_tokens(model="claude-sonnet-4-5", messages=messages)
    prompt = final.usage.input_tokens + (final.usage.cache_read_input_tokens or 0)
    check("anthropic count_tokens equals the prompt's usage", count.input_tokens == prompt, f"{count.input_tokens} vs {prompt}")

    # Claude Code's shape: Bearer auth, a billing-header block with a per-request nonce, a cached system prompt.
    bearer = anthropic.Anthropic(base_url=base, auth_token=key, api_key=None, max_retries=0, timeout=120)
    system_text = "You are a careful coding assistant. " * 12
    usages = []
    for nonce in ("a1b2c", "f9e8d"):
        r = bearer.messages.create(model="claude-haiku-4-5", max_tokens=4, extra_body=T0, messages=messages,
                                   system=[{"type": "text", "text": f"x-anthropic-billing-header: cc_version=2.1; cch={nonce};"},
                                           {"type": "text", "text": system_text, "cache_control": {"type": "ephemeral"}}])
        usages.append(r.usage)
    check("anthropic billing nonce does not break the prefix cache",
          usages[0].input_tokens + (usages[0].cache_read_input_tokens or 0)
          == usages[1].input_tokens + (usages[1].cache_read_input_tokens or 0) and (usages[1].cache_read_input_tokens or 0) > 0,
          usages)

    tools = [{"name": "get_weather", "description": "Current weather in a city", "input_schema": WEATHER_SCHEMA}]
    turn = [{"role": "user", "content": "What is the weather in Paris?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "18 C and sunny"}]}]
    answer = client.messages.create(model="claude-sonnet-4-5", max_tokens=16, extra_body=T0, tools=tools, messages=turn)
    check("anthropic tool_use round trip with a tool_result turn", answer.type == "message" and len(answer.content) >= 1, answer)
    try:
        client.messages.create(model="m", max_tokens=4, messages=[{"role": "user", "content": [{"type": "image", "source": {
            "type": "base64", "media_type": "image/png", "data": "AA=="}}]}])
        check("anthropic error is a typed BadRequestError", False, "no error")
    except anthropic.BadRequestError as e:
        check("anthropic error is a typed BadRequestError", e.status_code == 400 and "text only" in str(e), e)


def check_responses(base, key, check):
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=120)
    r = client.responses.create(model="gpt-5-codex", input=PROMPT, max_output_tokens=24, temperature=0, store=False)
    check("openai responses.create typed", r.status in ("completed", "incomplete") and r.output_text and r.usage.input_tokens > 0, r)
    deltas, final = [], None
    for event in client.responses.create(model="gpt-5-codex", input=PROMPT, max_output_tokens=24, temperature=0, store=False,
                                         stream=True):
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
        if event.type in ("response.completed", "response.incomplete"):
            final = event.response
    check("openai responses stream equals create at temperature 0", "".join(deltas) == r.output_text and final is not None
          and final.output_text == r.output_text, f"{''.join(deltas)!r} vs {r.output_text!r}")
    tools = [{"type": "function", "name": "get_weather", "parameters": WEATHER_SCHEMA, "strict": False},
             {"type": "custom", "name": "apply_patch", "description": "Apply a patch"}, {"type": "web_search"}]
    items = [{"role": "developer", "content": "Answer briefly."},
             {"role": "user", "content": "What is the weather in Paris?"},
             {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
             {"type": "function_call_output", "call_id": "call_1", "output": "18 C and sunny"}]
    answer = client.responses.create(model="gpt-5-codex", input=items, tools=tools, max_output_tokens=16, temperature=0, store=False)
    check("openai responses function_call round trip", answer.status in ("completed", "incomplete") and answer.output, answer)
    try:
        client.responses.create(model="m", input="hi", previous_response_id="resp_x")
        check("openai responses previous_response_id is a clear 400", False, "no error")
    except openai.BadRequestError as e:
        check("openai responses previous_response_id is a clear 400", "keeps no responses" in str(e), e)


def check_ollama(base, key, check):
    client = ollama.Client(host=base, headers={"Authorization": f"Bearer {key}"}, timeout=120)
    names = [m.model for m in client.list().models]
    check("ollama list", "smollm2" in names, names)
    show = client.show("smollm2")
    arch = show.modelinfo.get("general.architecture")
    check("ollama show: model_info with the context length, capabilities",
          show.modelinfo.get(f"{arch}.context_length") == 2048 and "completion" in (show.capabilities or []), show)
    messages = [{"role": "user", "content": PROMPT}]
    options = {"temperature": 0, "num_predict": 24}
    whole = client.chat(model="smollm2", messages=messages, options=options, stream=False)
    parts = list(client.chat(model="smollm2", messages=messages, options=options, stream=True))
    streamed = "".join(p.message.content or "" for p in parts)
    check("ollama chat stream equals whole at temperature 0", whole.message.content and streamed == whole.message.content
          and parts[-1].done and whole.eval_count > 0, f"{streamed!r} vs {whole.message.content!r}")
    gen = client.generate(model="smollm2", prompt="def fibonacci(n):", raw=True, options=options, stream=False)
    gen_parts = "".join(p.response for p in client.generate(model="smollm2", prompt="def fibonacci(n):", raw=True,
                                                            options=options, stream=True))
    check("ollama generate (raw) stream equals whole", gen.response and gen_parts == gen.response, f"{gen_parts!r} vs {gen.response!r}")
    with urllib.request.urlopen(f"{base}/api/version") as r:
        version = json.load(r)["version"]
    check("ollama version is bare semver", version.count(".") == 2 and version.replace(".", "").isdigit(), version)


def post(base, key, path, body):
    req = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read().decode()


def check_infill(base, key, check):
    # SmolLM2's vocabulary has no FIM tokens: /infill must refuse with 501 and say why. The FIM
    # layout itself is checked token by token on the tiny IQuest checkpoint (InfillRouteTests).
    body = {"input_prefix": "def add(a, b):\n    ", "input_suffix": "\n", "n_predict": 16, "temperature": 0}
    try:
        post(base, key, "/infill", body)
        check("infill without FIM tokens is 501 with a clear message", False, "answered 200")
    except urllib.error.HTTPError as e:
        message = json.loads(e.read().decode())["error"]["message"]
        check("infill without FIM tokens is 501 with a clear message", e.code == 501 and "fill-in-the-middle" in message, message)
