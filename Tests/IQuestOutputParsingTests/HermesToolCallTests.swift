import XCTest
import IQuestOutputParsing

// Hermes `<tool_call>{"name": …, "arguments": {…}}</tool_call>` (vLLM's hermes parser), with the
// arguments object passed on verbatim. A `</tool_call>` inside a JSON string is part of the value.

final class HermesToolCallTests: XCTestCase {
    static let weather = #"{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}"#
    static let weatherCall = call("get_weather", #"{"city": "Paris", "unit": "celsius"}"#)
    static let time = #"{"name":"get_time","arguments":{"tz":"UTC"}}"#
    static let timeCall = call("get_time", #"{"tz":"UTC"}"#)
    static let hermes = ParserConfig.tools(.hermes)
    static let hermesThinking = ParserConfig.tools(.hermes, reasoning: true)

    static let cases: [ParserCase] = [
        ParserCase("one call as the template asks", hermes,
                   "<tool_call>\n\(weather)\n</tool_call>", [weatherCall]),
        ParserCase("key order and spacing kept", hermes,
                   #"<tool_call>{"name": "f", "arguments": {"z": 1,  "a": [2, {"b": null}]}}</tool_call>"#,
                   [call("f", #"{"z": 1,  "a": [2, {"b": null}]}"#)]),
        ParserCase("text before the call, whitespace before the tag dropped", hermes,
                   "Let me check.\n\n<tool_call>\n\(weather)\n</tool_call>",
                   [content("Let me check."), weatherCall]),
        ParserCase("two calls, whitespace between dropped", hermes,
                   "<tool_call>\n\(weather)\n</tool_call>\n<tool_call>\n\(time)\n</tool_call>\n",
                   [weatherCall, timeCall]),
        ParserCase("text after the call", hermes,
                   "<tool_call>\(time)</tool_call>\n\nDone, calling now.",
                   [timeCall, content("Done, calling now.")]),
        ParserCase("arguments as a JSON string holding JSON", hermes,
                   #"<tool_call>{"name": "f", "arguments": "{\"a\": 1, \"s\": \"x\"}"}</tool_call>"#,
                   [call("f", #"{"a": 1, "s": "x"}"#)]),
        ParserCase("arguments missing", hermes,
                   #"<tool_call>{"name": "list_files"}</tool_call>"#, [call("list_files", "{}")]),
        ParserCase("arguments null", hermes,
                   #"<tool_call>{"name": "list_files", "arguments": null}</tool_call>"#, [call("list_files", "{}")]),
        ParserCase("parameters instead of arguments", hermes,
                   #"<tool_call>{"name": "f", "parameters": {"x": true}}</tool_call>"#, [call("f", #"{"x": true}"#)]),
        ParserCase("</tool_call> inside a JSON string is part of the value", hermes,
                   #"<tool_call>{"name": "write", "arguments": {"text": "end with </tool_call> \"ok\" {"}}</tool_call>"#,
                   [call("write", #"{"text": "end with </tool_call> \"ok\" {"}"#)]),
        ParserCase("nested braces and escapes", hermes,
                   #"<tool_call>{"name": "f", "arguments": {"code": "if (a) { b(\"}\"); }\\", "n": {"m": [{}]}}}</tool_call>"#,
                   [call("f", #"{"code": "if (a) { b(\"}\"); }\\", "n": {"m": [{}]}}"#)]),
        ParserCase("emoji and CJK in arguments and content", hermes,
                   "好的 👍\n<tool_call>{\"name\": \"search\", \"arguments\": {\"q\": \"東京 🗼\"}}</tool_call>",
                   [content("好的 👍"), call("search", #"{"q": "東京 🗼"}"#)]),
        ParserCase("invalid JSON: raw text is content", hermes,
                   #"<tool_call>{"name": "f", "arguments": {"a": }}</tool_call>"#,
                   [content(#"<tool_call>{"name": "f", "arguments": {"a": }}</tool_call>"#)]),
        ParserCase("no name: raw text is content", hermes,
                   #"Try: <tool_call>{"arguments": {}}</tool_call> ok"#,
                   [content(#"Try: <tool_call>{"arguments": {}}</tool_call> ok"#)]),
        ParserCase("arguments not an object: raw text is content", hermes,
                   #"<tool_call>{"name": "f", "arguments": [1]}</tool_call>"#,
                   [content(#"<tool_call>{"name": "f", "arguments": [1]}</tool_call>"#)]),
        ParserCase("arguments string that is not an object: raw text is content", hermes,
                   #"<tool_call>{"name": "f", "arguments": "a=1"}</tool_call>"#,
                   [content(#"<tool_call>{"name": "f", "arguments": "a=1"}</tool_call>"#)]),
        ParserCase("broken call then a good one", hermes,
                   "<tool_call>{bad}</tool_call>\n<tool_call>\(time)</tool_call>",
                   [content("<tool_call>{bad}</tool_call>"), timeCall]),
        ParserCase("unclosed call swallowing a good one", hermes,
                   "<tool_call>oops\n<tool_call>\(time)</tool_call>",
                   [content("<tool_call>oops"), timeCall]),
        ParserCase("unclosed at the end but complete JSON: recovered", hermes,
                   "<tool_call>\n\(time)\n", [timeCall]),
        ParserCase("unclosed and truncated: raw text is content", hermes,
                   "Calling.\n<tool_call>\n{\"name\": \"get_time\", \"argu",
                   [content("Calling.\n<tool_call>\n{\"name\": \"get_time\", \"argu")]),
        ParserCase("partial closing tag at the end of a truncated call", hermes,
                   "<tool_call>{\"name\": \"x\"}</tool_c",
                   [content("<tool_call>{\"name\": \"x\"}</tool_c")]),
        ParserCase("tool parsing off: stays content", .plain,
                   "<tool_call>\(time)</tool_call>", [content("<tool_call>\(time)</tool_call>")]),
        ParserCase("call inside reasoning is still a call", hermesThinking,
                   "<think>\nI need the time.\n<tool_call>\n\(time)\n</tool_call>\n</think>\n\n",
                   [reasoning("I need the time."), timeCall]),
        ParserCase("call inside prompt-opened reasoning that never closes", .tools(.hermes, reasoning: true, startsInReasoning: true),
                   "Need time.\n<tool_call>\(time)</tool_call>", [reasoning("Need time."), timeCall]),
        ParserCase("missing opener, call before </think>", hermesThinking,
                   "I need the time.\n<tool_call>\(time)</tool_call>\n</think>\nIt is noon.",
                   [reasoning("I need the time."), timeCall, content("It is noon.")]),
        ParserCase("invalid call inside reasoning stays reasoning", hermesThinking,
                   "<think>try <tool_call>{nope}</tool_call></think>ok",
                   [reasoning("try <tool_call>{nope}</tool_call>"), content("ok")]),
        ParserCase("unclosed call does not swallow </think> and the answer", hermesThinking,
                   "<think>r <tool_call>{\"name\":\"f\"</think>answer",
                   [reasoning("r <tool_call>{\"name\":\"f\""), content("answer")]),
        ParserCase("call then reasoning continues", hermesThinking,
                   "<think>a\n<tool_call>\(time)</tool_call>\nb</think>c",
                   [reasoning("a"), timeCall, reasoning("b"), content("c")]),
        ParserCase("trailing text then tag prefix at the end", hermes,
                   "<tool_call>\(time)</tool_call> bye <tool_",
                   [timeCall, content("bye <tool_")]),
    ]

    func testTable() {
        assertTable(Self.cases)
    }

    /// Nothing of the call shows before it is complete, and the call comes out at `</tool_call>`.
    func testStreamingEmitsTheCallWhole() {
        var parser = Self.hermes.makeParser()
        XCTAssertEqual(parser.feed("Sure.\n<tool"), [content("Sure.")])
        XCTAssertEqual(parser.feed("_call>\n{\"name\": \"get_time\", "), [])
        XCTAssertEqual(parser.feed("\"arguments\": {\"tz\":\"UTC\"}}\n</tool_call"), [])
        XCTAssertEqual(parser.feed(">"), [call("get_time", #"{"tz":"UTC"}"#)])
        XCTAssertEqual(parser.finish(), [])
    }

    /// Hostile bodies end as text without exhausting the stack or the JSON reader.
    func testPathologicalBodiesAreText() {
        let deep = "<tool_call>" + String(repeating: "[", count: 20_000) + "</tool_call>"
        XCTAssertEqual(Self.hermes.parse(deep), [content(deep)])
        let opens = String(repeating: "<tool_call>", count: 100) + "</tool_call>"
        XCTAssertEqual(Self.hermes.parse(opens), [content(opens)])
    }
}
