"""Writes Tests/Fixtures/templates/expected.json: jinja2 reference renders for IQuestTemplates' tests.

Rerun (after editing Tests/Fixtures/templates/conversations.json or the snippets below):

    tools/fetch-assets.sh vocab
    /work/venv-ref/bin/python tools/gen_template_fixtures.py

Templates: every $IQUEST_CACHE/llama-vocab/templates/*.jinja (IQUEST_CACHE defaults to ~/.cache/iquest).
Each is rendered for every case of conversations.json the way `tokenizer.apply_chat_template(
messages, tools=..., add_generation_prompt=..., tokenize=False, **kwargs)` does it: messages pass
through transformers' `_normalize_chat_messages` (None-valued keys dropped), then transformers'
own `render_jinja_template` renders them with `{**special_tokens_map, **kwargs}`; the special
tokens map here is just BOS_TOKEN / EOS_TOKEN below (recorded in the output). A case with
"requires": "X" only applies to templates whose source contains X (e.g. enable_thinking).

`strftime_now` is pinned to NOW (a naive datetime, as datetime.now() returns) so the renders are
reproducible; the Swift tests pass the same instant in UTC.

Results are {"output": str} or, where jinja2 raised (including raise_exception),
{"error": str(exception), "error_type": class name}.

Snippets (SNIPPETS below) are small templates with a JSON context, rendered with the same
transformers-configured environment, for expression/filter/statement semantics tests.
"""

import json
import os
import sys
from datetime import datetime
from pathlib import Path

import jinja2
import transformers
import transformers.utils.chat_template_utils as ctu

BOS_TOKEN = "<BOS>"
EOS_TOKEN = "<EOS>"
NOW = datetime(2025, 3, 14, 9, 26, 53)


class _FixedDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW


ctu.datetime = _FixedDatetime  # strftime_now looks the name up at call time

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "Fixtures" / "templates"
CACHE = Path(os.environ.get("IQUEST_CACHE") or Path.home() / ".cache" / "iquest")
TEMPLATES = CACHE / "llama-vocab" / "templates"


def outcome(fn):
    try:
        return {"output": fn()}
    except Exception as e:  # jinja2 errors, raise_exception, TypeError from Python ops...
        return {"error": str(e), "error_type": type(e).__name__}


def render_case(source, case):
    kwargs = {"bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN}
    kwargs.update(case.get("kwargs", {}))
    messages = ctu._normalize_chat_messages(case["messages"])
    rendered, _ = ctu.render_jinja_template(
        conversations=[messages],
        tools=case.get("tools"),
        chat_template=source,
        add_generation_prompt=case.get("add_generation_prompt", False),
        **kwargs,
    )
    return rendered[0]


# (id, template, context). Contexts are JSON. Covers what the real templates use plus common semantics.
SNIPPETS = [
    ("print_types", "{{ 1 }}|{{ 1.5 }}|{{ 'a' }}|{{ true }}|{{ none }}|{{ [1, 'a', none, true] }}|{{ {'a': 1, 'b': [2]} }}", {}),
    ("print_tuple", "{{ (1, 'x') }}|{{ (1,) }}|{{ () }}", {}),
    ("print_undefined", "[{{ nothing }}][{{ nothing.attr is defined }}]", {}),
    ("print_floats", "{{ 1.0 }}|{{ 0.1 + 0.2 }}|{{ 1e20 }}|{{ 1.5e-7 }}|{{ 10 / 4 }}|{{ 10 / 5 }}|{{ 2 ** 0.5 }}|{{ 1e16 }}|{{ 123456789.123 }}", {}),
    ("arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 7 - 10 }} {{ 3 * 'ab' }} {{ 'a' + 'b' }} {{ [1] + [2] }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }}", {}),
    ("float_arith", "{{ 7.5 // 2 }} {{ 7.5 % 2 }} {{ 1 + 1.0 }} {{ 3 * 1.5 }} {{ 2 ** -1 }}", {}),
    ("concat", "{{ 'a' ~ 1 ~ none ~ true ~ [1] }}", {}),
    ("concat_undefined", "[{{ 'a' ~ missing ~ 'b' }}]", {}),
    ("compare", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ [1,2] == [1,2] }} {{ none == none }} {{ x == none }}", {}),
    ("logic", "{{ true and false }} {{ true or false }} {{ not true }} {{ 0 or 'x' }} {{ '' and 1 }} {{ none or [] }} {{ 1 and 2 }} {{ not none }} {{ not [] }}", {}),
    ("in_ops", "{{ 'a' in 'cat' }} {{ 1 in [1,2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' }} {{ 3 not in [1] }}", {}),
    ("conditional_expr", "{{ 'y' if true else 'n' }} {{ 'y' if 0 else 'n' }} [{{ 'y' if false }}]", {}),
    ("string_escapes", r"""{{ 'a\nb' }}|{{ "t\tq\"" }}|{{ 'it\'s' }}|{{ '\\' }}|{{ '\u00e9' }}|{{ 'x\\n' }}""", {}),
    ("string_slices", "{{ 'hello'[1:] }} {{ 'hello'[::-1] }} {{ 'hello'[:-1] }} {{ 'hello'[1:4:2] }} {{ 'hello'[-1] }} {{ [1,2,3,4][1:3] }} {{ [1,2,3][::-1] }} {{ [1,2,3][-2:] }}", {}),
    ("subscript_attr", "{{ d.a }} {{ d['b'] }} {{ d.c.e }} {{ l[0] }} {{ l[-1] }} [{{ d.missing }}] {{ d.missing is defined }} {{ d.c['e'] }}", {"d": {"a": 1, "b": 2, "c": {"e": "E"}}, "l": ["x", "y"]}),
    ("string_methods", "{{ ' a b '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a\\n\\n'.rstrip() }}|{{ 'abc'.rstrip('c') }}|{{ 'a,b,c'.split(',') }}|{{ 'a b  c'.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ 'Hello'.upper() }}|{{ 'Hello'.lower() }}|{{ 'hello world'.title() }}|{{ 'hello'.capitalize() }}|{{ 'aXbX'.replace('X', '-') }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'banana'.count('a') }}|{{ 'banana'.find('n') }}|{{ 'banana'.find('z') }}|{{ ', '.join(['a', 'b']) }}", {}),
    ("string_methods2", "{{ '</think>x'.split('</think>')[0] }}|{{ 'a</think>b</think>c'.split('</think>')[-1] }}|{{ '\\n\\nx\\n'.lstrip('\\n') }}|{{ 'abc'.replace('b', '') }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'AbC'.swapcase() if false else 'AbC'.islower() }}|{{ '12'.isdigit() }}|{{ 'x'.ljust(3) }}.|{{ 'x'.center(5, '*') }}|{{ 'a\\nb'.splitlines() }}", {}),
    ("string_format", "{{ 'a{}b{}'.format(1, 'x') }}|{{ '{0}-{0}'.format('z') }}|{{ '{name}!'.format(name='hi') }}|{{ '%s and %d' % ('x', 3) }}", {}),
    ("dict_methods", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{{ d.keys() | list }}|{{ d.values() | list }}|{{ d.get('a') }}|{{ d.get('z') }}|{{ d.get('z', 'dflt') }}|{{ d.items() | list }}", {"d": {"b": 1, "a": 2}}),
    ("loop_vars", "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}", {"xs": ["a", "b", "c"]}),
    ("loop_cycle", "{% for x in xs %}{{ loop.cycle('odd', 'even') }}{% endfor %}|{% for x in xs %}{{ loop.changed(x) }}{% endfor %}", {"xs": [1, 1, 2]}),
    ("loop_else", "{% for x in xs %}{{ x }}{% else %}empty{% endfor %}|{% for x in [1] %}{{ x }}{% else %}empty{% endfor %}", {"xs": []}),
    ("loop_filter", "{% for x in xs if x is odd %}{{ x }}{{ loop.index }}{{ loop.last }},{% endfor %}", {"xs": [1, 2, 3, 4, 5]}),
    ("loop_break_continue", "{% for x in xs %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", {"xs": [1, 2, 3, 4, 5]}),
    ("loop_unpack", "{% for a, b in [[1, 2], [3, 4]] %}{{ a }}{{ b }}{% endfor %}|{% for a, b in d.items() %}{{ a }}{{ b }}{% endfor %}|{% for k in d %}{{ k }}{% endfor %}", {"d": {"x": 1, "y": 2}}),
    ("loop_string_iter", "{% for c in 'abc' %}{{ c }}.{% endfor %}", {}),
    ("loop_scope", "{% set x = 1 %}{% for i in [1,2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}", {}),
    ("namespace", "{% set ns = namespace(a=1, b='x') %}{% for i in [1,2,3] %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }}{{ ns.b }}", {}),
    ("namespace_list", "{% set ns = namespace(items=[]) %}{% for i in [1,2] %}{% set ns.items = ns.items + [i] %}{% endfor %}{{ ns.items }}", {}),
    ("set_block", "{% set body %}  hi {{ name }}\n{% endset %}[{{ body }}]", {"name": "Bob"}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}", {}),
    ("set_filter_block", "{% set x | upper %}abc{% endset %}{{ x }}", {}),
    ("filter_block", "{% filter upper %}ab{{ 'c' }}{% endfilter %}|{%- filter trim -%}  x  {%- endfilter %}", {}),
    ("macro", "{% macro greet(name, greeting='Hello') -%}{{ greeting }}, {{ name }}!{%- endmacro %}{{ greet('A') }}|{{ greet('B', 'Hi') }}|{{ greet(name='C', greeting='Yo') }}", {}),
    ("macro_scope", "{% set g = 'G' %}{% macro m(x) %}{{ g }}{{ x }}{{ y }}{% endmacro %}{{ m(1) }}", {"y": "Y"}),
    ("macro_caller", "{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}inner{% endcall %}", {}),
    ("macro_varargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}", {}),
    ("whitespace_control", "a  {%- if true -%}  b  {%- endif -%}  c\n{{- ' d ' -}}\ne", {}),
    ("trim_blocks", "{% if true %}\nline1\n{% endif %}\n    {% if true %}\n  x\n    {% endif %}\nend\n", {}),
    ("lstrip_nontrim", "  {{ 'a' }}\n  {# comment #}\n  b\n  {%+ if true %}c{% endif %}\n", {}),
    ("comment", "a{# c #}b{#- d -#} c\n{# multi\nline #}\nd", {}),
    ("raw", "{% raw %}{{ not evaluated }}{% if %}{% endraw %}|", {}),
    ("keep_trailing_newline", "x\n", {}),
    ("trailing_newlines", "x\n\n", {}),
    ("tests_types", "{{ 1 is number }}{{ 1.5 is number }}{{ true is number }}{{ 'a' is string }}{{ [1] is sequence }}{{ 'a' is sequence }}{{ {} is mapping }}{{ [] is mapping }}{{ {} is iterable }}{{ 'a' is iterable }}{{ 1 is iterable }}{{ none is none }}{{ x is none }}{{ true is boolean }}{{ 1 is boolean }}{{ 1 is integer }}{{ 1.0 is integer }}{{ 1.0 is float }}", {}),
    ("tests_values", "{{ 2 is even }}{{ 3 is odd }}{{ 9 is divisibleby 3 }}{{ 1 is equalto 1 }}{{ 1 is eq 2 }}{{ 3 is gt 2 }}{{ 'a' is lower }}{{ 'A' is upper }}{{ true is true }}{{ 1 is true }}{{ false is false }}{{ 'x' is in 'xy' }}{{ x is undefined }}{{ none is defined }}{{ 1 is not string }}", {}),
    ("filter_tojson", "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ d | tojson(separators=(',', ':')) }}|{{ 'é<>&\\'' | tojson }}|{{ [1.5, true, none, 1e20, 3.0] | tojson }}|{{ {} | tojson }}|{{ [] | tojson(indent=2) }}|{{ {'a': []} | tojson(indent=4) }}", {"d": {"name": "x", "n": [1, 2, {"q": "\u65e5\u672c"}], "e": {}, "f": 0.25, "s": "line\nbreak\t\"q\" \u0001 \u2028"}}),
    ("filter_tojson_ensure_ascii", "{{ 'é\U0001F680' | tojson(ensure_ascii=True) }}|{{ d | tojson(sort_keys=True) }}", {"d": {"b": 1, "a": 2}}),
    ("filter_strings", "{{ '  x  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'ab' | upper }}|{{ 'AB' | lower }}|{{ 'hello WORLD' | capitalize }}|{{ 'hello world' | title }}|{{ 'aXb' | replace('X', 'y') }}|{{ 1 | string }}|{{ none | string }}|{{ [1, 'a'] | string }}|{{ 'a<b' | safe }}|{{ 'a<b>&\"\\'' | escape }}|{{ 'a<b' | e }}|{{ 'one two  three' | wordcount }}|{{ 'abc' | reverse }}", {}),
    ("filter_length", "{{ [1,2] | length }}{{ 'abc' | length }}{{ {'a':1} | length }}{{ [1,2] | count }}", {}),
    ("filter_default", "{{ x | default('d') }}|{{ none | default('d') }}|{{ '' | default('d') }}|{{ '' | default('d', true) }}|{{ none | d('e', boolean=true) }}|{{ 0 | default(5) }}", {}),
    ("filter_join", "{{ ['a', 'b'] | join(', ') }}|{{ [1, 2] | join }}|{{ users | join(',', attribute='name') }}|{{ users | map(attribute='name') | join('/') }}", {"users": [{"name": "u1"}, {"name": "u2"}]}),
    ("filter_first_last", "{{ [1,2,3] | first }}{{ [1,2,3] | last }}{{ 'abc' | first }}{{ [] | first }}", {}),
    ("filter_numbers", "{{ '42' | int }}|{{ '4.7' | float }}|{{ 4.7 | int }}|{{ 'x' | int }}|{{ 'x' | int(7) }}|{{ 3 | float }}|{{ -3 | abs }}|{{ 2.567 | round(2) }}|{{ 2.5 | round }}|{{ 2.5 | round(0, 'floor') }}|{{ [3, 1, 2] | min }}|{{ [3, 1, 2] | max }}|{{ [1, 2, 3] | sum }}|{{ [1.5, 2] | sum }}", {}),
    ("filter_lists", "{{ 'ab' | list }}|{{ d | items | list }}|{{ [3, 1, 2] | sort }}|{{ [3, 1, 2] | sort(reverse=true) }}|{{ ['b', 'A', 'c'] | sort }}|{{ [1, 2, 1, 3] | unique | list }}|{{ [1, 2, 3] | reverse | list }}|{{ d | dictsort }}|{{ [1,2,3,4,5] | batch(2) | list }}|{{ users | sort(attribute='age') | map(attribute='name') | list }}", {"d": {"b": 1, "a": 2}, "users": [{"name": "x", "age": 3}, {"name": "y", "age": 1}]}),
    ("filter_select", "{{ xs | select('odd') | list }}|{{ xs | reject('odd') | list }}|{{ xs | select | list }}|{{ ms | selectattr('role', 'equalto', 'user') | map(attribute='c') | list }}|{{ ms | rejectattr('role', 'equalto', 'user') | list | length }}|{{ ms | selectattr('flag') | list | length }}|{{ ms | map(attribute='missing', default='D') | list }}|{{ ['a', 'b'] | map('upper') | list }}|{{ ms | selectattr('role', 'in', ['user', 'system']) | list | length }}", {"xs": [0, 1, 2, 3], "ms": [{"role": "user", "c": 1, "flag": True}, {"role": "assistant", "c": 2}, {"role": "user", "c": 3}]}),
    ("filter_indent", "{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(4, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}|{{ 'a\\nb' | indent('> ') }}", {}),
    ("filter_misc", "{{ 'x' | center(5) }}|{{ 'hello world' | wordcount }}|{{ [1, [2, 3]] | tojson }}|{{ 'a b' | urlencode if false else 'ok' }}|{{ {'a': 1} | dictsort(reverse=true) }}|{{ 'Hello' | lower | upper }}", {}),
    ("globals", "{{ range(3) | list }}|{{ range(1, 7, 2) | list }}|{% for i in range(2) %}{{ i }}{% endfor %}|{{ dict(a=1, b=2) }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %d %b %B %A %a %j %p %I %y') }}|{{ namespace(x=1).x }}", {}),
    ("dict_literal_order", "{{ {'z': 1, 'a': 2, 'm': {'y': [1, {'b': 2, 'a': 1}]}} | tojson }}", {}),
    ("json_context_order", "{{ d | tojson }}|{% for k in d %}{{ k }}{% endfor %}", {"d": {"zeta": 1, "alpha": {"k2": 2, "k1": 1}, "mid": [3, 2]}}),
    ("is_defined_chain", "{{ m.content is defined }}{{ m.tool_calls is defined }}{{ m.tool_calls is not defined }}{{ m['content'] is string }}{{ m.get('tool_calls') is none }}", {"m": {"content": "x"}}),
    ("undefined_truthiness", "{% if missing %}a{% else %}b{% endif %}{% if not missing %}c{% endif %}{{ missing | length if false else 'ok' }}{{ (missing or 'fallback') }}", {}),
    ("undefined_iterate", "{% for x in missing %}{{ x }}{% else %}none{% endfor %}", {}),
    ("undefined_error_attr", "{{ missing.attr }}", {}),
    ("undefined_error_call", "{{ missing() }}", {}),
    ("undefined_error_add", "{{ missing + 1 }}", {}),
    ("none_attr", "[{{ n.attr }}]", {"n": None}),
    ("raise_exception", "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}", {}),
    ("raise_exception_in_if", "a{% if x is not defined %}{{ raise_exception('x missing') }}{% endif %}", {}),
    ("list_methods_immutable", "{% set l = [1] %}{{ l.append(2) }}{{ l }}", {}),
    ("list_pop_immutable", "{% set l = [1, 2] %}{{ l.pop(0) }}", {}),
    ("dict_update_immutable", "{% set d = {} %}{{ d.update({'a': 1}) }}", {}),
    ("string_multiply_join", "{{ '=' * 3 }}|{{ ['x'] * 2 }}", {}),
    ("nested_quotes", "{{ \"it's\" }}|{{ 'say \"hi\"' }}|{{ ['it\\'s', \"q\\\"\"] }}|{{ {'k': \"v'\"} }}", {}),
    ("print_special_strings", "{{ ['a\\nb', 'tab\\t', 'é', '\\\\', '\\x01'] }}", {}),
    ("int_float_mix", "{{ 3 / 2 }}|{{ 4 // 2.0 }}|{{ 1 == true }}|{{ 0 == false }}|{{ 1 in [true] }}|{{ 10 // 3 * 3 }}", {}),
    ("string_compare_and_in_list", "{{ 'user' in ['user', 'system'] }}{{ 'x' in [] }}{{ 'tool' == 'tool' }}", {}),
    ("set_in_if_scope", "{% if true %}{% set y = 5 %}{% endif %}{{ y }}", {}),
    ("loop_nested_loop_var", "{% for a in [1,2] %}{% for b in ['x','y'] %}{{ loop.index }}{{ b }}{% endfor %}{{ loop.index }};{% endfor %}", {}),
    ("items_on_list_error", "{{ [1,2].items() }}", {}),
    ("trim_on_non_string", "{{ 5 | trim }}|{{ none | trim }}", {}),
    ("length_of_none_error", "{{ none | length }}", {}),
    ("dictsort_case", "{{ {'b': 1, 'A': 2, 'a': 3} | dictsort }}", {}),
    ("tojson_nested_indent", "{{ t | tojson(indent=4) }}", {"t": {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string", "enum": ["x", "y"]}}, "required": ["a"]}}}}),
    ("tojson_string_in_string", "{{ s | tojson }}", {"s": "{\"a\": 1}"}),
    ("unicode_slicing", "{{ s[1:3] }}|{{ s | length }}|{{ s[::-1] }}|{{ s.upper() }}", {"s": "é🚀ñx"}),
    ("elif_chain", "{% for v in [1, 2, 3, 4] %}{% if v == 1 %}one{% elif v == 2 %}two{% elif v == 3 %}three{% else %}other{% endif %},{% endfor %}", {}),
    ("not_precedence", "{{ not 1 == 2 }}|{{ not 'a' in 'abc' }}|{{ 'a' not in 'abc' }}|{{ not true and false }}|{{ -1 + 2 }}|{{ - 2 ** 2 }}", {}),
    ("filter_precedence", "{{ -1 | abs }}|{{ 'a' ~ 'b' | upper }}|{{ 1 + 2 | string }}", {}),
    ("call_kwargs_filter", "{{ [3,1] | sort(reverse=true) | join(',') }}", {}),
    ("slice_none", "{{ 'abcdef'[none:2] }}|{{ 'abcdef'[2:none] }}|{{ [1,2,3][5:] }}", {}),
    ("generation_block", "a{% generation %}gen {{ 1 }}{% endgeneration %}b", {}),
    ("bool_lowercase_literals", "{{ true }}{{ True }}{{ false }}{{ False }}{{ none }}{{ None }}", {}),
    ("string_in_none_error", "{{ 'a' in none }}", {}),
    ("unknown_filter", "{{ 1 | nosuchfilter }}", {}),
    ("unknown_test", "{{ 1 is nosuchtest }}", {}),
    ("syntax_unclosed_if", "line1\n{% if true %}\nx\n", {}),
    ("syntax_unknown_tag", "a\nb\n{% frobnicate %}", {}),
    ("syntax_bad_expr", "a\n{{ 1 + }}", {}),
    ("syntax_unclosed_var", "a\n{{ x ", {}),
    ("syntax_endfor_mismatch", "{% if true %}\n{% endfor %}", {}),
    ("mapping_iter_in_tojson_dict_items", "{% for k, v in d | dictsort %}{{ k }}:{{ v | tojson }};{% endfor %}", {"d": {"b": [1], "a": "s"}}),
    ("length_of_dict_keys", "{{ d.keys() | length }}", {"d": {"a": 1, "b": 2}}),
    ("string_concat_numbers", "{{ 1 ~ 2 }}|{{ 1.0 ~ '' }}|{{ 'v' ~ 1.5 }}", {}),
    ("int_division_by_zero", "{{ 1 // 0 }}", {}),
    ("mixed_compare_error", "{{ 1 < 'a' }}", {}),
    ("escape_in_keys", "{{ {'a\"b': 'c\\\\d'} | tojson }}", {}),
    ("integer_big", "{{ 2 ** 40 }}|{{ 12345678901234 }}|{{ 1_000 }}", {}),
    ("string_index_error", "{{ 'abc'[10] }}", {}),
    ("list_index_undefined", "[{{ [1][5] }}]", {}),
    ("markup_concat", "{{ 'a<' | safe + '<b>' }}|{{ '<x>' + '&' | safe }}|{{ ('<' | safe) ~ '<' }}|{{ '<' | escape | escape }}|{{ '<' | safe is escaped }}", {}),
    ("unknown_filter_in_if_not_run", "{% if false %}{{ x | nosuch }}{% endif %}ok{{ 1 if true else (1 | nosuch2) }}", {}),
    ("unknown_filter_in_if_run", "{% if true %}{{ 1 | nosuch }}{% endif %}", {}),
    ("unknown_filter_in_for_in_if", "{% if false %}{% for x in [] %}{{ x | nosuch }}{% endfor %}{% endif %}", {}),
    ("unknown_test_in_if_not_run", "{% if false %}{{ 1 is nosuch }}{% endif %}ok", {}),
    ("select_on_none", "{{ none | selectattr('a') | list }}|{{ none | map('upper') | list }}|{{ none | reject | list }}", {}),
    ("ws_nested_blocks", "{% if true %}\n    {% if true %}x{% endif %}\n{% endif %}\n  {{ 'v' }}\n  {% if true %}y{% endif %}\n", {}),
    ("ws_minus_plus", "a\n  {%- if true %}\n  b\n  {%- endif %}\nc {%+ if true %}d{% endif +%}\ne", {}),
    ("ws_raw_controls", "x  {%- raw -%}  {{ y }}  {%- endraw -%}  z", {}),
    ("ws_comment_lines", "a\n    {# note #}\nb\n{#- x -#}\n  c", {}),
    ("ws_variable_no_lstrip", "a\n    {{ 'b' }}\n    {%- if true %}c{% endif %}", {}),
    ("ws_crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n", {}),
    ("ws_tab_indent", "\t{% for i in [1, 2] %}\n\t{{ i }}\n\t{% endfor %}\n", {}),
    ("dict_attr_vs_method", "{{ d.items is defined }}|{{ d['items'] }}|{{ d.keys() | list }}", {"d": {"items": "I", "keys": "K"}}),
    ("print_dict_views", "{{ d.items() }}|{{ d.keys() }}|{{ d.values() }}|{{ range(3) }}|{{ range(1, 5, 2) }}", {"d": {"a": 1}}),
    ("generator_truthiness", "{{ 'y' if [] | select else 'n' }}|{{ ([] | list) | length }}", {}),
    ("tojson_generator_error", "{{ [1] | map('string') | tojson }}", {}),
    ("length_generator_error", "{{ [1] | select | length }}", {}),
    ("string_title_vs_filter", "{{ \"they're bill's-x\" | title }}|{{ \"they're bill's-x\".title() }}", {}),
    ("nested_macro_call_with_kwargs", "{% macro f(a, b=2) %}{{ a }}-{{ b }}{% endmacro %}{% macro g(x) %}[{{ f(x, b=x * 2) }}]{% endmacro %}{{ g(3) }}", {}),
    ("namespace_in_macro", "{% set ns = namespace(n=0) %}{% macro inc() %}{% set ns.n = ns.n + 1 %}{% endmacro %}{{ inc() }}{{ inc() }}{{ ns.n }}", {}),
    ("loop_var_in_macro_arg", "{% macro m(i) %}{{ i }}{% endmacro %}{% for x in 'ab' %}{{ m(loop.index) }}{% endfor %}", {}),
    ("set_outer_from_loop_not_leaking", "{% set found = false %}{% for x in [1, 2] %}{% if x == 2 %}{% set found = true %}{% endif %}{% endfor %}{{ found }}", {}),
    ("content_list_iteration", "{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{% for c in m.content %}{% if c.type == 'text' %}{{ c.text }}{% endif %}{% endfor %}{% endif %};{% endfor %}", {"messages": [{"content": "s"}, {"content": [{"type": "text", "text": "t1"}, {"type": "image"}, {"type": "text", "text": "t2"}]}]}),
]


def main():
    if not TEMPLATES.is_dir():
        sys.exit(f"{TEMPLATES} missing: run tools/fetch-assets.sh vocab")
    cases = json.loads((FIXTURES / "conversations.json").read_text())
    result = {
        "generator": "tools/gen_template_fixtures.py",
        "transformers": transformers.__version__,
        "jinja2": jinja2.__version__,
        "bos_token": BOS_TOKEN,
        "eos_token": EOS_TOKEN,
        "now": NOW.isoformat(),
        "templates": {},
        "snippets": [],
    }
    for path in sorted(TEMPLATES.glob("*.jinja")):
        source = path.read_text()
        per = {}
        for case in cases:
            req = case.get("requires")
            if req and req not in source:
                continue
            per[case["id"]] = outcome(lambda: render_case(source, case))
        result["templates"][path.name] = per
    for sid, template, context in SNIPPETS:
        def run():
            return ctu._compile_jinja_template(template).render(**context)
        entry = {"id": sid, "template": template, "context": context}
        entry.update(outcome(run))
        result["snippets"].append(entry)
    out = FIXTURES / "expected.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    n_err = sum(1 for t in result["templates"].values() for r in t.values() if "error" in r)
    n_all = sum(len(t) for t in result["templates"].values())
    print(f"wrote {out}: {len(result['templates'])} templates, {n_all} renders ({n_err} errors), {len(SNIPPETS)} snippets")


if __name__ == "__main__":
    main()
