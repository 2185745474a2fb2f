import Foundation
import IQuestServer
import XCTest

/// The reasoning and tool-call paths over HTTP, driven by scripted token sequences whose tags
/// are split across tokens.
final class ReasoningAndToolRouteTests: XCTestCase {
    let thinkTemplate = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}<think>\n"
    let hermesTemplate = "{% if tools %}<tools>{{ tools }}</tools> answer with <tool_call>{\"name\": ..., \"arguments\": ...}</tool_call>{% endif %}<think>"

    func model(_ template: String) -> ServedModel { ServedModel(id: "scripted", contextLength: 512, chatTemplate: template) }

    static func message(_ r: TestResponseJSON) throws -> [String: Any] {
        let choice = try XCTUnwrap((r["choices"] as? [[String: Any]])?.first)
        return try XCTUnwrap(choice["message"] as? [String: Any])
    }

    func testReasoningSplitAcrossTokensGoesToBothFields() async throws {
        let backend = ScriptedBackend(script: ["<th", "ink>", "Let me", " think", "</th", "ink>", "The answer", " is 4."],
                                      model: model(thinkTemplate))
        try await withServer(backend) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody())
            let m = try Self.message(try r.json)
            XCTAssertEqual(m["reasoning_content"] as? String, "Let me think")
            XCTAssertEqual(m["reasoning"] as? String, "Let me think")
            XCTAssertEqual(m["content"] as? String, "The answer is 4.")
        }
    }

    func testReasoningOpenedInThePromptWithoutClosingTag() async throws {
        let backend = ScriptedBackend(script: ["still", " thinking"], model: model(thinkTemplate), promptSuffix: "<think>\n")
        try await withServer(backend) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody())
            let m = try Self.message(try r.json)
            XCTAssertEqual(m["reasoning_content"] as? String, "still thinking")
            XCTAssertEqual(m["content"] as? String ?? "", "")
        }
    }

    func testThinkingClosedInThePromptMeansNoReasoning() async throws {
        let backend = ScriptedBackend(script: ["plain ", "answer"], model: model(thinkTemplate), promptSuffix: "<think>\n\n</think>\n\n")
        try await withServer(backend) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""stream": true"#))
            let contents = try r.events().flatMap { e in
                (e["choices"] as? [[String: Any]] ?? []).compactMap { ($0["delta"] as? [String: Any])?["content"] as? String }
            }
            // Streamed token by token, not held back waiting for a tag (whitespace that might precede
            // a tag waits for the next token).
            XCTAssertEqual(contents.filter { !$0.isEmpty }, ["plain", " answer"])
        }
    }

    func testReasoningParserNoneLeavesTagsInContent() async throws {
        let backend = ScriptedBackend(script: ["<think>", "x", "</think>", "y"], model: model(thinkTemplate))
        try await withServer(backend, configure: { $0.reasoningParser = .none }) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody())
            let m = try Self.message(try r.json)
            XCTAssertEqual(m["content"] as? String, "<think>x</think>y")
            XCTAssertNil(m["reasoning_content"])
        }
    }

    func testStreamedReasoningNeverLeaksTags() async throws {
        let backend = ScriptedBackend(script: ["<", "think", ">", "a", "b</", "think>", "c"], model: model(thinkTemplate))
        try await withServer(backend) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""stream": true"#))
            var content = "", reasoning = "", reasoningAlias = ""
            for e in try r.events() {
                for c in e["choices"] as? [[String: Any]] ?? [] {
                    let d = c["delta"] as? [String: Any] ?? [:]
                    content += d["content"] as? String ?? ""
                    reasoning += d["reasoning_content"] as? String ?? ""
                    reasoningAlias += d["reasoning"] as? String ?? ""
                }
            }
            XCTAssertEqual(reasoning, "ab")
            XCTAssertEqual(reasoningAlias, "ab")
            XCTAssertEqual(content, "c")
        }
    }

    static let tools = #""tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}}}]"#

    func testHermesToolCallsNonStreaming() async throws {
        let script = ["I'll check.", "<tool", "_call>\n{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_",
                      "call>", "\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>"]
        let backend = ScriptedBackend(script: script, model: model(hermesTemplate))
        try await withServer(backend) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody(extra: Self.tools))
            let json = try r.json
            let m = try Self.message(json)
            XCTAssertEqual(m["content"] as? String, "I'll check.")
            let calls = try XCTUnwrap(m["tool_calls"] as? [[String: Any]])
            XCTAssertEqual(calls.count, 2)
            XCTAssertTrue((calls[0]["id"] as? String ?? "").hasPrefix("call_"))
            XCTAssertEqual(calls[0]["type"] as? String, "function")
            let f0 = try XCTUnwrap(calls[0]["function"] as? [String: Any])
            XCTAssertEqual(f0["name"] as? String, "get_weather")
            let args = try XCTUnwrap(f0["arguments"] as? String)
            let parsed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(args.utf8)) as? [String: Any])
            XCTAssertEqual(parsed["city"] as? String, "Paris")
            XCTAssertEqual(parsed["days"] as? Int, 2)
            XCTAssertEqual(((json["choices"] as? [[String: Any]])?.first)?["finish_reason"] as? String, "tool_calls")
        }
        XCTAssertTrue(backend.renderedPrompts.last?.contains("tools: 1") ?? false)
    }

    func testHermesToolCallsStreamingHoldsBackPartialTags() async throws {
        let script = ["<", "tool", "_call>", "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}", "</tool_call>"]
        let backend = ScriptedBackend(script: script, model: model(hermesTemplate))
        try await withServer(backend) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody(extra: Self.tools + #", "stream": true"#))
            var content = ""
            var calls: [[String: Any]] = []
            var finish: String?
            for e in try r.events() {
                for c in e["choices"] as? [[String: Any]] ?? [] {
                    let d = c["delta"] as? [String: Any] ?? [:]
                    content += d["content"] as? String ?? ""
                    calls += d["tool_calls"] as? [[String: Any]] ?? []
                    if let f = c["finish_reason"] as? String { finish = f }
                }
            }
            XCTAssertEqual(content, "")
            XCTAssertEqual(calls.count, 1)
            XCTAssertEqual(calls[0]["index"] as? Int, 0)
            XCTAssertEqual((calls[0]["function"] as? [String: Any])?["name"] as? String, "get_weather")
            XCTAssertEqual(finish, "tool_calls")
        }
    }

    func testQwen3CoderXMLFromTheFlagTypesValuesFromTheSchema() async throws {
        let script = ["<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n",
                      "<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>"]
        let backend = ScriptedBackend(script: script, model: model(hermesTemplate))
        try await withServer(backend, configure: { $0.toolCallParser = .syntax(.qwen3Coder) }) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody(extra: Self.tools))
            let m = try Self.message(try r.json)
            let call = try XCTUnwrap((m["tool_calls"] as? [[String: Any]])?.first?["function"] as? [String: Any])
            XCTAssertEqual(call["arguments"] as? String, #"{"city":"Paris","days":3}"#)
        }
    }

    func testToolChoiceNoneKeepsToolsOutOfThePromptAndTheText() async throws {
        let script = ["<tool_call>{\"name\": \"get_weather\", \"arguments\": {}}</tool_call>"]
        let backend = ScriptedBackend(script: script, model: model(hermesTemplate))
        try await withServer(backend) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody(extra: Self.tools + #", "tool_choice": "none""#))
            let m = try Self.message(try r.json)
            XCTAssertNil(m["tool_calls"])
            XCTAssertEqual(m["content"] as? String, script[0])
        }
        XCTAssertFalse(backend.renderedPrompts.last?.contains("tools:") ?? true)
    }

    func testNamedToolChoiceOffersOnlyThatFunction() async throws {
        let backend = ScriptedBackend(script: ["x"], model: model(hermesTemplate))
        let two = #""tools": [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "b"}}]"#
        try await withServer(backend) { client in
            let r = try await client.post("/v1/chat/completions",
                                          json: chatBody(extra: two + #", "tool_choice": {"type": "function", "function": {"name": "b"}}"#))
            XCTAssertEqual(r.status, .ok, r.text)
            let bad = try await client.post("/v1/chat/completions",
                                            json: chatBody(extra: two + #", "tool_choice": {"type": "function", "function": {"name": "zz"}}"#))
            XCTAssertEqual(bad.status, .badRequest)
            XCTAssertEqual(try bad.openAIError().param, "tool_choice")
        }
        XCTAssertTrue(backend.renderedPrompts.first?.contains("tools: 1") ?? false)
    }

    func testEnableThinkingReachesTheTemplate() async throws {
        let backend = ScriptedBackend(script: ["x"], model: model(thinkTemplate))
        try await withServer(backend) { client in
            _ = try await client.post("/v1/chat/completions", json: chatBody(extra: #""chat_template_kwargs": {"enable_thinking": false}"#))
        }
        XCTAssertTrue(backend.renderedPrompts.last?.contains("option enable_thinking") ?? false)
    }
}

typealias TestResponseJSON = [String: Any]
