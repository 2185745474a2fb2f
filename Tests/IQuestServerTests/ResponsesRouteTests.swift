import Foundation
import IQuestServer
import XCTest

/// `POST /v1/responses` (stateless) over the scripted backend.
final class ResponsesRouteTests: XCTestCase {
    static let tools = #""tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}, {"type": "custom", "name": "apply_patch", "description": "Apply a patch"}, {"type": "web_search"}]"#
    static let script = ["<think>", "plan", "</think>", "Sure", ".", "<tool_call>",
                         #"{"name": "get_weather", "arguments": {"city": "Paris"}}"#, "</tool_call>",
                         "<tool_call>", #"{"name": "apply_patch", "arguments": {"input": "*** Begin Patch\n*** End Patch"}}"#, "</tool_call>"]

    static func makeBackend(_ script: [String] = ResponsesRouteTests.script) -> ScriptedBackend {
        ScriptedBackend(script: script, model: ServedModel(id: "iquest", contextLength: 4096, chatTemplate: "<think>{{ messages }}"))
    }

    static func body(_ extra: String = "") -> String {
        #"{"model": "gpt-5-codex", "store": false, "input": "hi"\#(extra.isEmpty ? "" : ", " + extra)}"#
    }

    func testOutputItemsAndUsage() async throws {
        let backend = Self.makeBackend()
        backend.cachedPromptTokens = 2
        try await withServer(backend) { client in
            let r = try await client.post("/v1/responses", json: Self.body(Self.tools))
            XCTAssertEqual(r.status, .ok, r.text)
            let json = try r.json
            XCTAssertEqual(json["object"] as? String, "response")
            XCTAssertEqual(json["status"] as? String, "completed")
            XCTAssertEqual(json["model"] as? String, "gpt-5-codex")
            let output = try XCTUnwrap(json["output"] as? [[String: Any]])
            XCTAssertEqual(output.map { $0["type"] as? String }, ["reasoning", "message", "function_call", "custom_tool_call"])
            XCTAssertEqual(((output[0]["content"] as? [[String: Any]])?.first)?["text"] as? String, "plan")
            XCTAssertEqual(((output[1]["content"] as? [[String: Any]])?.first)?["text"] as? String, "Sure.")
            XCTAssertEqual(output[2]["name"] as? String, "get_weather")
            let arguments = try JSONSerialization.jsonObject(with: Data((output[2]["arguments"] as? String ?? "").utf8)) as? [String: Any]
            XCTAssertEqual(arguments?["city"] as? String, "Paris")
            XCTAssertTrue((output[2]["call_id"] as? String ?? "").hasPrefix("call_"))
            XCTAssertEqual(output[3]["input"] as? String, "*** Begin Patch\n*** End Patch")
            let usage = try XCTUnwrap(json["usage"] as? [String: Any])
            XCTAssertEqual(usage["output_tokens"] as? Int, Self.script.count)
            XCTAssertEqual((usage["input_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int, 2)
            XCTAssertEqual((usage["output_tokens_details"] as? [String: Any])?["reasoning_tokens"] as? Int, "plan".utf8.count)
        }
        // Two tools offered (the hosted web_search is skipped).
        XCTAssertTrue(backend.renderedPrompts[0].contains("tools: 2"))
    }

    func testStreamedEventsAgreeWithTheNonStreamedAnswer() async throws {
        let backend = Self.makeBackend()
        try await withServer(backend) { client in
            let plain = try await client.post("/v1/responses", json: Self.body(Self.tools)).json
            let events = try await client.post("/v1/responses", json: Self.body(Self.tools + #", "stream": true"#)).namedEvents()
            XCTAssertEqual(events.map { $0.data["sequence_number"] as? Int }, Array(0..<events.count).map { Optional($0) })
            XCTAssertEqual(collapsedNames(events), [
                "response.created", "response.in_progress",
                "response.output_item.added", "response.reasoning_text.delta", "response.reasoning_text.done", "response.output_item.done",
                "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.done",
                "response.content_part.done", "response.output_item.done",
                "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done",
                "response.output_item.done",
                "response.output_item.added", "response.custom_tool_call_input.delta", "response.custom_tool_call_input.done",
                "response.output_item.done", "response.completed",
            ])
            let final = try XCTUnwrap(events.last?.data["response"] as? [String: Any])
            // Same items apart from their generated ids.
            func strip(_ items: Any?) throws -> [String] {
                try (items as? [[String: Any]] ?? []).map { item in
                    let kept = item.filter { !["id", "call_id"].contains($0.key) }
                    return String(decoding: try JSONSerialization.data(withJSONObject: kept, options: [.sortedKeys]), as: UTF8.self)
                }
            }
            XCTAssertEqual(try strip(final["output"]), try strip(plain["output"]))
            XCTAssertEqual(try strip(final["output"]).count, 4)
            let text = events.filter { $0.name == "response.output_text.delta" }.compactMap { $0.data["delta"] as? String }.joined()
            XCTAssertEqual(text, "Sure.")
        }
    }

    func testIncompleteWhenTheBudgetRunsOut() async throws {
        try await withServer(Self.makeBackend(["a", "b", "c"])) { client in
            let json = try await client.post("/v1/responses", json: Self.body(#""max_output_tokens": 2"#)).json
            XCTAssertEqual(json["status"] as? String, "incomplete")
            XCTAssertEqual((json["incomplete_details"] as? [String: Any])?["reason"] as? String, "max_output_tokens")
            let events = try await client.post("/v1/responses", json: Self.body(#""max_output_tokens": 2, "stream": true"#)).namedEvents()
            XCTAssertEqual(events.last?.name, "response.incomplete")
        }
    }

    func testInputItemsBecomeMessagesWithMidConversationSystemMerged() async throws {
        let backend = ScriptedBackend(script: ["ok"], model: ServedModel(id: "iquest", contextLength: 4096, chatTemplate: nil))
        try await withServer(backend) { client in
            let input = #"[{"role": "developer", "content": "Be terse."}, {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix it"}]}, {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "look"}]}, {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{\"cmd\": \"ls\"}"}, {"type": "function_call_output", "call_id": "c1", "output": "a.txt"}, {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]}, {"role": "system", "content": "Use French."}, {"role": "user", "content": "next"}]"#
            let r = try await client.post("/v1/responses", json: #"{"model": "m", "instructions": "You are Codex.", "input": \#(input)}"#)
            XCTAssertEqual(r.status, .ok, r.text)
        }
        XCTAssertEqual(backend.renderedPrompts[0],
                       "system: You are Codex.\n\nBe terse.\n\nUse French.\nuser: fix it\nassistant: \ntool: a.txt\nassistant: done\nuser: next\n")
    }

    func testCustomToolCallItemsRoundTrip() async throws {
        let backend = ScriptedBackend(script: ["ok"], model: ServedModel(id: "iquest", contextLength: 4096, chatTemplate: nil))
        try await withServer(backend) { client in
            let input = #"[{"role": "user", "content": "patch it"}, {"type": "custom_tool_call", "call_id": "c9", "name": "apply_patch", "input": "*** Begin Patch"}, {"type": "custom_tool_call_output", "call_id": "c9", "output": "Done!"}]"#
            let r = try await client.post("/v1/responses", json: #"{"model": "m", "input": \#(input), \#(Self.tools)}"#)
            XCTAssertEqual(r.status, .ok, r.text)
        }
        XCTAssertEqual(backend.renderedPrompts[0], "user: patch it\nassistant: \ntool: Done!\ntools: 2\n")
    }

    func testStoredStateIsRefusedClearly() async throws {
        try await withServer(Self.makeBackend(["ok"])) { client in
            let stored = try await client.post("/v1/responses", json: #"{"model": "m", "input": "hi", "store": true}"#)
            XCTAssertEqual(stored.status, .badRequest)
            XCTAssertEqual(try stored.openAIError().param, "store")
            let previous = try await client.post("/v1/responses", json: #"{"model": "m", "input": "hi", "previous_response_id": "resp_1"}"#)
            XCTAssertEqual(previous.status, .badRequest)
            XCTAssertEqual(try previous.openAIError().param, "previous_response_id")
            let image = try await client.post("/v1/responses",
                                              json: #"{"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]}"#)
            XCTAssertEqual(image.status, .badRequest)
        }
    }

    func testFailureAfterTheStreamStartedIsAnErrorEvent() async throws {
        let backend = Self.makeBackend(["a", "b", "c"])
        backend.failAfter = 1
        try await withServer(backend) { client in
            let events = try await client.post("/v1/responses", json: Self.body(#""stream": true"#)).namedEvents()
            XCTAssertEqual(events.first?.name, "response.created")
            XCTAssertEqual(events.suffix(2).map(\.name), ["error", "response.failed"])
            XCTAssertEqual(events.dropLast().last?.data["code"] as? String, "server_error")
            let response = try XCTUnwrap(events.last?.data["response"] as? [String: Any])
            XCTAssertEqual(response["status"] as? String, "failed")
            XCTAssertEqual((response["error"] as? [String: Any])?["code"] as? String, "server_error")
            // Numbered without a gap to the end.
            XCTAssertEqual(events.map { $0.data["sequence_number"] as? Int }, Array(0..<events.count).map { Optional($0) })
        }
    }
}
