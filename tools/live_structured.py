"""Structured-output checks for the live server test (issue #17), with the openai client on
SmolLM2: json_schema answers parse and validate (jsonschema), forced tool calls return a call
whose arguments validate, logit_bias -100 bans a token and +100 forces one."""
import json

import jsonschema
import openai

SCHEMAS = {
    "nested object": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
                      "address": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}, "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
                                  "required": ["city", "zip"], "additionalProperties": False}},
                      "required": ["name", "address"], "additionalProperties": False},
    "enum": {"type": "object", "properties": {"color": {"enum": ["red", "green", "blue"]}}, "required": ["color"], "additionalProperties": False},
    "array minItems": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 99}, "minItems": 2, "maxItems": 5},
    "anyOf": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 10}, {"type": "string", "enum": ["none"]}]},
    "$ref": {"$defs": {"item": {"type": "object", "properties": {"id": {"type": "integer", "minimum": 1, "maximum": 1000}}, "required": ["id"], "additionalProperties": False}},
             "type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/item"}, "maxItems": 3}}, "required": ["items"], "additionalProperties": False},
    "numeric bounds": {"type": "object", "properties": {"score": {"type": "number", "minimum": 0, "maximum": 1}, "age": {"type": "integer", "minimum": 18, "maximum": 65}},
                       "required": ["score", "age"], "additionalProperties": False},
}

WEATHER = {"type": "function", "function": {"name": "get_weather", "strict": True, "parameters": {
    "type": "object", "properties": {"city": {"type": "string", "maxLength": 30}, "unit": {"enum": ["celsius", "fahrenheit"]}},
    "required": ["city", "unit"], "additionalProperties": False}}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"zone": {"type": "string", "maxLength": 30}}, "required": ["zone"], "additionalProperties": False}}}


def run(client, check):
    for name, schema in SCHEMAS.items():
        for seed in (1, 2):
            r = client.chat.completions.create(
                model="smollm2", messages=[{"role": "user", "content": f"Give an example JSON value ({name})."}],
                max_tokens=160, temperature=0.8, seed=seed,
                response_format={"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": schema}})
            text = r.choices[0].message.content or ""
            ok, detail = False, text
            if r.choices[0].finish_reason == "length":
                detail = f"cut by max_tokens: {text!r}"
            else:
                try:
                    jsonschema.validate(json.loads(text), schema)
                    ok = True
                except Exception as e:  # noqa: BLE001 - the check reports whatever failed
                    detail = f"{e}: {text!r}"
            check(f"structured: json_schema {name} (seed {seed}) parses and validates", ok, detail)

    stream = client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": "A color?"}], max_tokens=40, stream=True,
        response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": SCHEMAS["enum"]}})
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    try:
        jsonschema.validate(json.loads(streamed), SCHEMAS["enum"])
        check("structured: streamed json_schema answer validates", True)
    except Exception as e:  # noqa: BLE001
        check("structured: streamed json_schema answer validates", False, f"{e}: {streamed!r}")

    for choice in ("required", {"type": "function", "function": {"name": "get_weather"}}):
        r = client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": "What's the weather in Paris?"}],
            tools=[WEATHER, TIME], tool_choice=choice, max_tokens=120, temperature=0.7, seed=5)
        calls = r.choices[0].message.tool_calls or []
        ok = len(calls) >= 1
        for call in calls:
            tool = WEATHER if call.function.name == "get_weather" else TIME
            try:
                jsonschema.validate(json.loads(call.function.arguments), tool["function"]["parameters"])
            except Exception:  # noqa: BLE001
                ok = False
        if isinstance(choice, dict):
            ok = ok and all(c.function.name == "get_weather" for c in calls)
        check(f"structured: tool_choice {choice if isinstance(choice, str) else 'named'} returns a valid tool call", ok, r.choices[0].message)

    try:
        client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "x"}], max_tokens=4,
                                       response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"not": {}}}})
        check("structured: unsupported keyword is 400", False, "no error")
    except openai.BadRequestError as e:
        check("structured: unsupported keyword is 400", "'not'" in e.message, e.message)

    plain = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0,
                                           logprobs=True)
    first = plain.choices[0].logprobs.content[0].token if plain.choices[0].logprobs else None
    ids = client.post("/tokenize", cast_to=object, body={"prompt": first or "Hello", "add_special_tokens": False}) if first else None
    tokens = ids.get("tokens", []) if isinstance(ids, dict) else []
    if tokens:
        banned = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Say hello."}], max_tokens=8,
                                                temperature=0, logit_bias={str(tokens[0]): -100}, logprobs=True)
        got = [c.token for c in banned.choices[0].logprobs.content]
        check("structured: logit_bias -100 bans the greedy first token", first not in got[:1], (first, got))
    else:
        check("structured: logit_bias -100 bans the greedy first token", False, ("no token ids", first, ids))
    forced = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Say hello."}], max_tokens=4,
                                            temperature=0.9, seed=3, logit_bias={"28": 100}, logprobs=True)
    got = [c.token for c in forced.choices[0].logprobs.content] if forced.choices[0].logprobs else []
    check("structured: logit_bias +100 forces the token", len(got) == 4 and len(set(got)) == 1, got)
