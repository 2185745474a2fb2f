import XCTest
import IQuestOutputParsing

// Qwen3-Coder `<tool_call><function=…><parameter=…>` calls (vLLM's qwen3_coder parser): values typed
// by the tool schema, one newline on each side of a value removed, compact JSON in parameter order.

final class Qwen3CoderToolCallTests: XCTestCase {
    static let types: [String: [String: String]] = [
        "get_weather": ["city": "string", "days": "integer"],
        "configure": ["ratio": "number", "verbose": "boolean", "options": "object", "tags": "array",
                      "nothing": "null", "count": "integer", "label": "string", "flag": "boolean",
                      "limit": "int", "scale": "float"],
        "write_file": ["path": "string", "content": "string"],
    ]
    static let coder = ParserConfig.tools(.qwen3Coder, types: types)
    static let coderThinking = ParserConfig.tools(.qwen3Coder, reasoning: true, types: types)

    static func block(_ function: String, _ parameters: [(String, String)]) -> String {
        let body = parameters.map { "<parameter=\($0.0)>\n\($0.1)\n</parameter>\n" }.joined()
        return "<tool_call>\n<function=\(function)>\n\(body)</function>\n</tool_call>"
    }

    static let weather = block("get_weather", [("city", "Paris"), ("days", "3")])
    static let weatherCall = call("get_weather", #"{"city":"Paris","days":3}"#)

    static let cases: [ParserCase] = [
        ParserCase("one call in the template's layout", coder, weather, [weatherCall]),
        ParserCase("every schema type", coder,
                   block("configure", [("ratio", "2.50"), ("verbose", "True"), ("options", "{ \"a\": [1, 2], \"b\": {} }"),
                                       ("tags", "[\"x\", \"y\"]"), ("nothing", "null"), ("count", " 42 "),
                                       ("label", "null"), ("flag", "FALSE"), ("limit", "+7"), ("scale", ".5")]),
                   [call("configure", #"{"ratio":2.50,"verbose":true,"options":{"a":[1,2],"b":{}},"tags":["x","y"],"nothing":null,"count":42,"label":"null","flag":false,"limit":7,"scale":0.5}"#)]),
        ParserCase("values that do not fit their type stay strings", coder,
                   block("configure", [("count", "three"), ("ratio", "1,5"), ("verbose", "yes"), ("options", "{'a': 1}"), ("tags", "[1,")]),
                   [call("configure", #"{"count":"three","ratio":"1,5","verbose":"yes","options":"{'a': 1}","tags":"[1,"}"#)]),
        ParserCase("null for a non-string type, unknown parameters and functions are strings", coder,
                   block("configure", [("count", "NULL"), ("extra", "5")]) + "\n" + block("unknown_tool", [("n", "5")]),
                   [call("configure", #"{"count":null,"extra":"5"}"#), call("unknown_tool", #"{"n":"5"}"#)]),
        ParserCase("multi-line code: exactly one newline stripped on each side", coder,
                   "<tool_call>\n<function=write_file>\n<parameter=path>\nmain.py\n</parameter>\n<parameter=content>\n\ndef f():\n\treturn \"a\\\\b\"\n\n</parameter>\n</function>\n</tool_call>",
                   [call("write_file", #"{"path":"main.py","content":"\ndef f():\n\treturn \"a\\\\b\"\n"}"#)]),
        ParserCase("text before and after", coder,
                   "I'll look it up.\n\n\(weather)\n\nThat is all.",
                   [content("I'll look it up."), weatherCall, content("That is all.")]),
        ParserCase("two blocks", coder,
                   weather + "\n" + block("get_weather", [("city", "Oslo")]),
                   [weatherCall, call("get_weather", #"{"city":"Oslo"}"#)]),
        ParserCase("two functions in one block", coder,
                   "<tool_call>\n<function=get_weather>\n<parameter=city>\nRome\n</parameter>\n</function>\n<function=get_weather>\n<parameter=city>\nNice\n</parameter>\n</function>\n</tool_call>",
                   [call("get_weather", #"{"city":"Rome"}"#), call("get_weather", #"{"city":"Nice"}"#)]),
        ParserCase("no parameters", coder,
                   "<tool_call>\n<function=list_files>\n</function>\n</tool_call>", [call("list_files", "{}")]),
        ParserCase("missing </parameter> ends at the next parameter or </function>", coder,
                   "<tool_call>\n<function=get_weather>\n<parameter=city>\nLima\n<parameter=days>\n2\n</function>\n</tool_call>",
                   [call("get_weather", #"{"city":"Lima","days":2}"#)]),
        ParserCase("missing </function> in a closed block", coder,
                   "<tool_call>\n<function=get_weather>\n<parameter=city>\nBern\n</parameter>\n</tool_call>",
                   [call("get_weather", #"{"city":"Bern"}"#)]),
        ParserCase("repeated parameter: first place, last value", coder,
                   block("get_weather", [("city", "A"), ("days", "1"), ("city", "B")]),
                   [call("get_weather", #"{"city":"B","days":1}"#)]),
        ParserCase("emoji and CJK values", coder,
                   "好的 🙂\n" + block("get_weather", [("city", "東京 🗼")]),
                   [content("好的 🙂"), call("get_weather", #"{"city":"東京 🗼"}"#)]),
        ParserCase("unclosed at the end but complete: recovered", coder,
                   "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n",
                   [call("get_weather", #"{"city":"Paris"}"#)]),
        ParserCase("unclosed and truncated: raw text is content", coder,
                   "<tool_call>\n<function=get_weather>\n<parameter=city>\nPar",
                   [content("<tool_call>\n<function=get_weather>\n<parameter=city>\nPar")]),
        ParserCase("no function in the block: raw text is content", coder,
                   #"<tool_call>{"name": "f", "arguments": {}}</tool_call>"#,
                   [content(#"<tool_call>{"name": "f", "arguments": {}}</tool_call>"#)]),
        ParserCase("function without a name: raw text is content", coder,
                   "<tool_call><function=>x</function></tool_call>",
                   [content("<tool_call><function=>x</function></tool_call>")]),
        ParserCase("call inside reasoning is still a call", coderThinking,
                   "<think>\nCheck the weather.\n\(weather)\n</think>\n\n",
                   [reasoning("Check the weather."), weatherCall]),
        ParserCase("unclosed call with text after </function> is not swallowed", coderThinking,
                   "<think>r\n<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n</think>\nanswer",
                   [reasoning("r\n<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>"), content("answer")]),
        // The XML form has no escaping, so the first </tool_call> ends the call even inside a value
        // (as in vLLM); the lenient reading keeps what came before it and the rest is content.
        ParserCase("</tool_call> inside a value ends the call", coder,
                   "<tool_call>\n<function=write_file>\n<parameter=content>\nsay </tool_call> here\n</parameter>\n</function>\n</tool_call>",
                   [call("write_file", #"{"content":"say "}"#), content("here\n</parameter>\n</function>\n</tool_call>")]),
    ]

    func testTable() {
        assertTable(Self.cases)
    }

    func testStreamingHoldsTheBlockUntilClosed() {
        var parser = Self.coder.makeParser()
        XCTAssertEqual(parser.feed("Checking.\n<tool_call>\n<function=get_weather>\n<parameter=city>\nPa"), [content("Checking.")])
        XCTAssertEqual(parser.feed("ris\n</parameter>\n</function>\n</tool_call"), [])
        XCTAssertEqual(parser.feed(">\n"), [call("get_weather", #"{"city":"Paris"}"#)])
        XCTAssertEqual(parser.finish(), [])
    }

    func testParameterValueTyping() {
        XCTAssertEqual(ParameterValue.json("12345678901234567890", schemaType: "integer"), "12345678901234567890")
        XCTAssertEqual(ParameterValue.json("1e400", schemaType: "number"), "1e400", "a JSON literal is kept verbatim")
        XCTAssertEqual(ParameterValue.json("inf", schemaType: "number"), "\"inf\"")
        XCTAssertEqual(ParameterValue.json("1.", schemaType: "number"), "1")
        XCTAssertEqual(ParameterValue.json("a\u{1}b", schemaType: nil), "\"a\\u0001b\"")
        XCTAssertEqual(ParameterValue.json("5", schemaType: "STRING"), "\"5\"")
        XCTAssertEqual(ParameterValue.strippingOneNewline("\r\nx\r\n"), "x")
    }
}
