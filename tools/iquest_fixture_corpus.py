"""Text material for tools/gen_tiny_iquest.py (dev-only; CI never runs it).

Everything here was written for this project: the SentencePiece training corpus, the tokenizer
test strings, the prompts, the chat conversations and the Qwen3-style chat template (written in
that style, not copied from a published template). Changing any of it changes the fixtures: rerun
the generator and commit the result.
"""
from __future__ import annotations

DEFAULT_SYSTEM = "You are LoopCoder, a helpful assistant developed by IQuest."

# ---- SentencePiece training corpus -----------------------------------------------------------
# One sentence per line (the trainer reads lines), so "\n" never becomes a piece and newlines
# in test strings fall back to the <0x0A> byte piece, as in Llama-style vocabularies.

_PYTHON = '''
def fibonacci(n: int) -> list[int]:
    """Return the first n Fibonacci numbers."""
    values = [0, 1]
    while len(values) < n:
        values.append(values[-1] + values[-2])
    return values[:n]

class Counter:
    def __init__(self, start=0):
        self.count = start

    def increment(self, step=1):
        self.count += step
        return self.count

def read_config(path):
    with open(path, "r", encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition("=")
            yield key.strip(), value.strip()

import json
import os
from pathlib import Path

def load_json(path: Path) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"missing file: {path}")
    return json.loads(path.read_text())

for index, item in enumerate(items):
    print(f"{index}: {item}")

result = [x * x for x in range(10) if x % 2 == 0]
total = sum(result)
assert total == 120, "unexpected total"
try:
    value = int(text)
except ValueError as error:
    print("not a number:", error)
finally:
    cleanup()
lambda a, b: a + b
async def fetch(session, url):
    async with session.get(url) as response:
        return await response.text()
'''

_SWIFT = '''
import Foundation

struct Point: Equatable {
    var x: Double
    var y: Double

    func distance(to other: Point) -> Double {
        let dx = x - other.x
        let dy = y - other.y
        return (dx * dx + dy * dy).squareRoot()
    }
}

enum TokenizerError: Error {
    case missingFile(String)
    case invalidToken(Int)
}

final class Cache<Key: Hashable, Value> {
    private var storage: [Key: Value] = [:]
    func value(for key: Key) -> Value? { storage[key] }
    func insert(_ value: Value, for key: Key) { storage[key] = value }
}

public func greedy(logits: [Float]) -> Int {
    var best = 0
    for i in 1..<logits.count where logits[i] > logits[best] {
        best = i
    }
    return best
}

let names = ["alpha", "beta", "gamma"].map { $0.uppercased() }
guard let url = URL(string: "https://example.com") else { fatalError("bad url") }
if let data = try? Data(contentsOf: url) { print(data.count) }
'''

_C = '''
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *data;
    size_t rows;
    size_t cols;
} matrix_t;

static float dot(const float *a, const float *b, size_t n) {
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        sum += a[i] * b[i];
    }
    return sum;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <file>\\n", argv[0]);
        return 1;
    }
    FILE *fp = fopen(argv[1], "rb");
    if (fp == NULL) {
        perror("fopen");
        return 1;
    }
    char buffer[256];
    while (fgets(buffer, sizeof buffer, fp) != NULL) {
        printf("%s", buffer);
    }
    fclose(fp);
    return 0;
}
'''

_JS = '''
const express = require("express");
const app = express();

function debounce(fn, delay) {
    let timer = null;
    return (...args) => {
        clearTimeout(timer);
        timer = setTimeout(() => fn(...args), delay);
    };
}

app.get("/api/items/:id", async (req, res) => {
    const item = await db.find({ id: req.params.id });
    if (!item) {
        return res.status(404).json({ error: "not found" });
    }
    res.json(item);
});

export default class Queue {
    constructor() { this.items = []; }
    push(value) { this.items.push(value); return this; }
    pop() { return this.items.shift(); }
    get length() { return this.items.length; }
}

const sum = [1, 2, 3, 4].reduce((acc, x) => acc + x, 0);
console.log(`sum = ${sum}`);
'''

_SHELL = '''
#!/usr/bin/env bash
set -euo pipefail
for file in "$@"; do
    if [ -f "$file" ]; then
        echo "processing $file"
        wc -l "$file"
    fi
done
export PATH="$HOME/.local/bin:$PATH"
git log --oneline | head -n 5
find . -name "*.swift" -type f | xargs grep -n "func "
tar -czf archive.tar.gz src/ && echo done
'''

_PROSE = '''
The model reads a prompt, predicts the next token, and repeats until it emits an end token.
A tokenizer splits text into pieces; common words become single pieces while rare words fall back to bytes.
Write a function that returns the sum of all even numbers in a list.
Explain the difference between a process and a thread in simple terms.
The quick brown fox jumps over the lazy dog near the river bank.
Please review this pull request and point out any bugs or missing tests.
The function should handle empty input and return zero in that case.
In this tutorial we will build a small web server step by step.
Make sure the tests pass before you merge the branch into main.
The assistant answered the question, then asked whether the user needed anything else.
Numbers like 42, 3.14159, 2024 and 1000000 appear in code and in prose alike.
Le café est très bon, et la crème brûlée aussi.
Die Straße ist lang und schön.
Él está en la montaña con su niño.
user assistant system tool function arguments name description parameters properties required type string integer object
You are a helpful assistant. Answer the question briefly and precisely.
The weather in Paris is sunny today with a high of 21 degrees.
'''

_CHATML = '''
<|im_start|>system
You are LoopCoder, a helpful assistant developed by IQuest.<|im_end|>
<|im_start|>user
Write a Python function that reverses a string.<|im_end|>
<|im_start|>assistant
<think>
The user wants a simple function; slicing with a negative step reverses a string.
</think>

def reverse(text):
    return text[::-1]<|im_end|>
<tool_call>
{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
</tool_call>
<tool_response>
{"temperature": 21, "condition": "sunny"}
</tool_response>
'''

TRAIN_TEXT = "\n".join([_PYTHON, _SWIFT, _C, _JS, _SHELL, _PROSE, _CHATML])
# Repeat the code so that indentation runs and common identifiers win merges.
TRAIN_LINES = [ln for ln in (TRAIN_TEXT * 3).split("\n") if ln.strip()]


# ---- tokenizer cases -------------------------------------------------------------------------

TOKENIZER_CASES = [
    "",
    " ",
    "   ",
    "\n",
    "hello",
    " hello",
    "  hello",
    "Hello World",
    "hello   world",
    "trailing space ",
    "def add(a, b):\n    return a + b\n",
    "if x:\n\tif y:\n\t\treturn 1\n",
    "line one\r\nline two\r\n",
    "x = 1234567890 + 3.14159",
    "for (int i = 0; i < 10; i++) {}",
    "Le café brûlé, naïve façade",
    "Привет, мир",
    "中文分词测试",
    "emoji 🙂 and family 👨\u200d👩\u200d👧\u200d👦 and flag 🇫🇷",
    "tab\tseparated\tvalues",
    "<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are LoopCoder, a helpful assistant developed by IQuest.<|im_end|>\n",
    "a<think>b",
    "x</tool_call>y",
    "<think>\nreasoning here\n</think>\n\nanswer",
    "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
    "<tools></tools>",
    "<tool_response>ok</tool_response>",
    "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>",
    "text<|endoftext|>more",
    "<|im_start|><|im_end|>",
    "<EOD><PAD><MASK><CLS><SEP>",
    "word<|im_end|>",
    " <|im_start|> spaced <|im_end|> ",
    "<|im_start|assistant",
    "<think <thinking> </think",
    "<s>bos</s>eos<unk>",
    "<|repo_name|>iquest<|file_sep|>main.swift",
    "   leading spaces then <think> tag",
    "mixed\n\n\n   whitespace\t \t runs",
    "日本語とEnglishの混在 text",
    "price: €42.50 (≈ $45)",
]


# ---- prompts for the model fixtures ----------------------------------------------------------

PROMPT_CODE = "def add(a, b):\n    return a + b\n"

PROMPT_CHAT_MESSAGES = [
    {"role": "user", "content": "Reverse a string in Python."},
]

PROMPT_LONG = (
    "import os\n"
    "\n"
    "def list_files(root):\n"
    "    for name in sorted(os.listdir(root)):\n"
    "        path = os.path.join(root, name)\n"
    "        yield path\n"
)


# ---- chat template ---------------------------------------------------------------------------
# Qwen3-style (namespace variables, tools in the system turn as JSON schemas between <tools> tags,
# Hermes JSON tool calls, grouped tool responses, reasoning kept only after the last real user
# turn, enable_thinking=false inserts an empty think block), with IQuest's default system prompt.
# Every tag carries a '-' on the left, so the output does not depend on trim_blocks/lstrip_blocks
# (transformers renders with both on).

CHAT_TEMPLATE = (
    "{%- set default_system = '" + DEFAULT_SYSTEM + "' %}\n"
    "{%- if messages and messages[0].role == 'system' %}\n"
    "    {%- set system_text = messages[0].content %}\n"
    "    {%- set turns = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set system_text = default_system %}\n"
    "    {%- set turns = messages %}\n"
    "{%- endif %}\n"
    "{{- '<|im_start|>system\\n' + system_text }}\n"
    "{%- if tools %}\n"
    "    {{- '\\n\\n# Tools\\n\\nYou can call the functions described below to help with the request.\\n"
    "Their JSON schemas are listed between <tools></tools> tags:\\n<tools>' }}\n"
    "    {%- for tool in tools %}\n"
    "        {{- '\\n' + (tool | tojson) }}\n"
    "    {%- endfor %}\n"
    "    {{- '\\n</tools>\\n\\nTo call a function, reply with a JSON object holding its name and arguments "
    "between <tool_call></tool_call> tags:\\n<tool_call>\\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\\n</tool_call>' }}\n"
    "{%- endif %}\n"
    "{{- '<|im_end|>\\n' }}\n"
    "{%- set ns = namespace(last_query=-1) %}\n"
    "{%- for m in turns %}\n"
    "    {%- if m.role == 'user' %}\n"
    "        {%- set c = m.content if m.content is string else '' %}\n"
    "        {%- if not (c.startswith('<tool_response>') and c.endswith('</tool_response>')) %}\n"
    "            {%- set ns.last_query = loop.index0 %}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- for m in turns %}\n"
    "    {%- set text = m.content if m.content is string else '' %}\n"
    "    {%- if m.role == 'user' or m.role == 'system' %}\n"
    "        {{- '<|im_start|>' + m.role + '\\n' + text + '<|im_end|>\\n' }}\n"
    "    {%- elif m.role == 'assistant' %}\n"
    "        {%- set reasoning = '' %}\n"
    "        {%- if m.reasoning_content is string %}\n"
    "            {%- set reasoning = m.reasoning_content %}\n"
    "        {%- elif '</think>' in text %}\n"
    "            {%- set reasoning = text.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}\n"
    "            {%- set text = text.split('</think>')[-1].lstrip('\\n') %}\n"
    "        {%- endif %}\n"
    "        {{- '<|im_start|>assistant\\n' }}\n"
    "        {%- if loop.index0 > ns.last_query and reasoning %}\n"
    "            {{- '<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n' }}\n"
    "        {%- endif %}\n"
    "        {{- text }}\n"
    "        {%- if m.tool_calls %}\n"
    "            {%- for call in m.tool_calls %}\n"
    "                {%- set fn = call.function if call.function is defined else call %}\n"
    "                {%- if text or not loop.first %}\n"
    "                    {{- '\\n' }}\n"
    "                {%- endif %}\n"
    "                {{- '<tool_call>\\n{\"name\": \"' + fn.name + '\", \"arguments\": ' }}\n"
    "                {%- if fn.arguments is string %}\n"
    "                    {{- fn.arguments }}\n"
    "                {%- else %}\n"
    "                    {{- fn.arguments | tojson }}\n"
    "                {%- endif %}\n"
    "                {{- '}\\n</tool_call>' }}\n"
    "            {%- endfor %}\n"
    "        {%- endif %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    "    {%- elif m.role == 'tool' %}\n"
    "        {%- if loop.first or turns[loop.index0 - 1].role != 'tool' %}\n"
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' + text + '\\n</tool_response>' }}\n"
    "        {%- if loop.last or turns[loop.index0 + 1].role != 'tool' %}\n"
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "    {%- if enable_thinking is defined and enable_thinking is false %}\n"
    "        {{- '<think>\\n\\n</think>\\n\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
)


# ---- chat template cases ---------------------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city (°C or °F).",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}

SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search_code",
        "description": "Search the repository for a pattern.",
        "parameters": {
            "type": "object",
            "properties": {"pattern": {"type": "string"}, "max_results": {"type": "integer"}},
            "required": ["pattern"],
        },
    },
}

TEMPLATE_CASES = [
    {
        "name": "no_system",
        "messages": [{"role": "user", "content": "Hello!"}],
        "add_generation_prompt": True,
    },
    {
        "name": "no_system_no_generation_prompt",
        "messages": [{"role": "user", "content": "Hello!"}],
        "add_generation_prompt": False,
    },
    {
        "name": "with_system",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hi."},
        ],
        "add_generation_prompt": True,
    },
    {
        "name": "multi_turn",
        "messages": [
            {"role": "system", "content": "You write Python."},
            {"role": "user", "content": "Sum a list."},
            {"role": "assistant", "content": "Use sum(xs)."},
            {"role": "user", "content": "And the product?"},
        ],
        "add_generation_prompt": True,
    },
    {
        "name": "multi_turn_closed",
        "messages": [
            {"role": "user", "content": "Sum a list."},
            {"role": "assistant", "content": "Use sum(xs)."},
        ],
        "add_generation_prompt": False,
    },
    {
        "name": "tools_and_tool_calls",
        "messages": [
            {"role": "user", "content": "What is the weather in Paris?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"type": "function",
                     "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}},
                ],
            },
            {"role": "tool", "content": "{\"temperature\": 21, \"condition\": \"sunny\"}"},
            {"role": "assistant", "content": "It is sunny and 21 °C in Paris."},
            {"role": "user", "content": "Find TODOs in the repo."},
        ],
        "tools": [WEATHER_TOOL, SEARCH_TOOL],
        "add_generation_prompt": True,
    },
    {
        "name": "tools_with_system_parallel_calls",
        "messages": [
            {"role": "system", "content": "You are a coding agent."},
            {"role": "user", "content": "Weather in Paris and Berlin, please."},
            {
                "role": "assistant",
                "content": "Checking both cities.",
                "tool_calls": [
                    {"type": "function",
                     "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                    {"type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\": \"Berlin\"}"}},
                ],
            },
            {"role": "tool", "content": "{\"temperature\": 21}"},
            {"role": "tool", "content": "{\"temperature\": 17}"},
        ],
        "tools": [WEATHER_TOOL],
        "add_generation_prompt": True,
    },
    {
        "name": "reasoning_content",
        "messages": [
            {"role": "user", "content": "What is 2 + 2?"},
            {"role": "assistant", "content": "4", "reasoning_content": "Two plus two is four."},
            {"role": "user", "content": "And 3 + 3?"},
            {"role": "assistant", "content": "6", "reasoning_content": "Three plus three is six."},
        ],
        "add_generation_prompt": False,
    },
    {
        "name": "reasoning_inline_think",
        "messages": [
            {"role": "user", "content": "Pick a number."},
            {"role": "assistant", "content": "<think>\nAny number works.\n</think>\n\n7"},
        ],
        "add_generation_prompt": False,
    },
    {
        "name": "enable_thinking_false",
        "messages": [{"role": "user", "content": "Quick answer: capital of France?"}],
        "add_generation_prompt": True,
        "template_kwargs": {"enable_thinking": False},
    },
    {
        "name": "enable_thinking_true",
        "messages": [{"role": "user", "content": "Quick answer: capital of France?"}],
        "add_generation_prompt": True,
        "template_kwargs": {"enable_thinking": True},
    },
]
