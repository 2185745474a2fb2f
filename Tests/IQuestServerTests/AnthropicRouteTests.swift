import Foundation
import HTTPTypes
import IQuestEngine
import IQuestServer
import XCTest

/// `POST /v1/messages` and friends over the scripted backend.
final class AnthropicRouteTests: XCTestCase {
    static let weatherTool = #""tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]"#
    /// Thinking, text, then one tool call, with tags split across tokens.
    static let mixedScript = ["<th", "ink>", "plan", " it", "</think>", "Sure", ", checking.", "<tool_call>",
                              #"{"name": "get_weather", "arguments": {"city": "Paris", "days": 2.5}}"#, "</tool_call>"]

    static func body(_ content: String = "hi", extra: String = "") -> String {
        #"{"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "\#(content)"}]\#(extra.isEmpty ? "" : ", " + extra)}"#
    }

    static func mixedBackend() -> ScriptedBackend {
        ScriptedBackend(script: Self.mixedScript,
                        model: ServedModel(id: "iquest", contextLength: 4096, chatTemplate: "<think>{{ messages }}"))
    }

    func testTextAnswerHasAnthropicShapeAndEchoesTheRequestedModel() async throws {
        let backend = ScriptedBackend(script: ["Hello", " world"])
        backend.cachedPromptTokens = 3
        try await withServer(backend) { client in
            let r = try await client.post("/v1/messages?beta=true", json: Self.body())
            XCTAssertEqual(r.status, .ok)
            let json = try r.json
            XCTAssertEqual(json["type"] as? String, "message")
            XCTAssertEqual(json["role"] as? String, "assistant")
            XCTAssertEqual(json["model"] as? String, "claude-sonnet-4-5")
            XCTAssertTrue((json["id"] as? String ?? "").hasPrefix("msg_"))
            let content = try XCTUnwrap(json["content"] as? [[String: Any]])
            XCTAssertEqual(content.count, 1)
            XCTAssertEqual(content[0]["type"] as? String, "text")
            XCTAssertEqual(content[0]["text"] as? String, "Hello world")
            XCTAssertEqual(json["stop_reason"] as? String, "end_turn")
            XCTAssertTrue(json.keys.contains("stop_sequence"))
            let usage = try XCTUnwrap(json["usage"] as? [String: Any])
            let prompt = backend.requests[0].promptIds.count
            XCTAssertEqual(usage["input_tokens"] as? Int, prompt - 3)
            XCTAssertEqual(usage["cache_read_input_tokens"] as? Int, 3)
            XCTAssertEqual(usage["output_tokens"] as? Int, 2)
        }
    }

    func testThinkingTextAndToolUseBlocksAgreeStreamedAndNot() async throws {
        let backend = Self.mixedBackend()
        try await withServer(backend) { client in
            let plain = try await client.post("/v1/messages", json: Self.body(extra: Self.weatherTool))
            let json = try plain.json
            let content = try XCTUnwrap(json["content"] as? [[String: Any]])
            XCTAssertEqual(content.map { $0["type"] as? String }, ["thinking", "text", "tool_use"])
            XCTAssertEqual(content[0]["thinking"] as? String, "plan it")
            XCTAssertEqual(content[1]["text"] as? String, "Sure, checking.")
            XCTAssertEqual(content[2]["name"] as? String, "get_weather")
            let input = try XCTUnwrap(content[2]["input"] as? [String: Any])
            XCTAssertEqual(input["city"] as? String, "Paris")
            XCTAssertEqual(input["days"] as? Double, 2.5)
            XCTAssertTrue((content[2]["id"] as? String ?? "").hasPrefix("toolu_"))
            XCTAssertEqual(json["stop_reason"] as? String, "tool_use")

            let streamed = try await client.post("/v1/messages", json: Self.body(extra: Self.weatherTool + #", "stream": true"#))
            XCTAssertEqual(streamed.headers[.contentType], "text/event-stream")
            let events = try streamed.namedEvents()
            XCTAssertEqual(collapsedNames(events), [
                "message_start", "content_block_start", "content_block_delta", "content_block_stop",
                "content_block_start", "content_block_delta", "content_block_stop",
                "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
            ])
            // Rebuild the blocks from the events, as the SDK's accumulator does.
            var blocks: [Int: [String: Any]] = [:]
            var partialJSON: [Int: String] = [:]
            for (name, data) in events {
                let index = data["index"] as? Int ?? -1
                switch name {
                case "content_block_start": blocks[index] = data["content_block"] as? [String: Any]
                case "content_block_delta":
                    let delta = try XCTUnwrap(data["delta"] as? [String: Any])
                    switch delta["type"] as? String {
                    case "text_delta":
                        let text = (blocks[index]?["text"] as? String ?? "") + (delta["text"] as? String ?? "")
                        blocks[index]?["text"] = text
                    case "thinking_delta":
                        let thinking = (blocks[index]?["thinking"] as? String ?? "") + (delta["thinking"] as? String ?? "")
                        blocks[index]?["thinking"] = thinking
                    case "input_json_delta": partialJSON[index, default: ""] += delta["partial_json"] as? String ?? ""
                    default: XCTFail("unexpected delta \(delta)")
                    }
                default: break
                }
            }
            XCTAssertEqual(blocks.count, 3)
            XCTAssertEqual(blocks[0]?["type"] as? String, "thinking")
            XCTAssertEqual(blocks[0]?["thinking"] as? String, content[0]["thinking"] as? String)
            XCTAssertEqual(blocks[1]?["text"] as? String, content[1]["text"] as? String)
            XCTAssertEqual(blocks[2]?["name"] as? String, "get_weather")
            let streamedInput = try JSONSerialization.jsonObject(with: Data((partialJSON[2] ?? "").utf8)) as? [String: Any]
            XCTAssertEqual(streamedInput?["city"] as? String, "Paris")
            let delta = try XCTUnwrap(events.first { $0.name == "message_delta" }?.data)
            XCTAssertEqual((delta["delta"] as? [String: Any])?["stop_reason"] as? String, "tool_use")
            XCTAssertEqual((delta["usage"] as? [String: Any])?["output_tokens"] as? Int, Self.mixedScript.count)
            let start = try XCTUnwrap(events.first?.data["message"] as? [String: Any])
            XCTAssertEqual((start["usage"] as? [String: Any])?["input_tokens"] as? Int, backend.requests[1].promptIds.count)
        }
    }

    func testMaxTokensStopReasonAndPingEvents() async throws {
        let backend = ScriptedBackend(script: ["a", "b", "c"], tokenDelay: .milliseconds(30))
        try await withServer(backend, configure: { $0.pingInterval = .milliseconds(10) }) { client in
            let body = #"{"model": "x", "max_tokens": 2, "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#
            let events = try await client.post("/v1/messages", json: body).namedEvents()
            XCTAssertTrue(events.contains { $0.name == "ping" })
            let delta = try XCTUnwrap(events.first { $0.name == "message_delta" }?.data["delta"] as? [String: Any])
            XCTAssertEqual(delta["stop_reason"] as? String, "max_tokens")
            XCTAssertEqual(events.last?.name, "message_stop")
        }
    }

    func testStopSequenceIsReported() async throws {
        let backend = ScriptedBackend(script: ["a", "END", "b"])
        try await withServer(backend) { client in
            let json = try await client.post("/v1/messages", json: Self.body(extra: #""stop_sequences": ["END"]"#)).json
            XCTAssertEqual(json["stop_reason"] as? String, "stop_sequence")
            XCTAssertEqual(json["stop_sequence"] as? String, "END")
            XCTAssertEqual(((json["content"] as? [[String: Any]])?.first)?["text"] as? String, "a")
        }
        XCTAssertEqual(backend.requests[0].stopStrings, ["END"])
    }

    func testBillingHeaderBlockIsKeptOutOfThePrompt() async throws {
        let backend = ScriptedBackend(script: ["ok"], model: ServedModel(id: "iquest", contextLength: 4096, chatTemplate: nil))
        try await withServer(backend) { client in
            for nonce in ["cch=1a2b3", "cch=9f8e7"] {
                let body = #"{"model": "claude-haiku-4-5", "max_tokens": 8, "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.3; cc_entrypoint=cli; \#(nonce);"}, {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}], "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}"#
                let r = try await client.post("/v1/messages", json: body)
                XCTAssertEqual(r.status, .ok, r.text)
            }
        }
        let requests = backend.requests
        XCTAssertEqual(requests.count, 2)
        XCTAssertEqual(requests[0].promptIds, requests[1].promptIds)
        XCTAssertEqual(backend.renderedPrompts[0], "system: You are Claude Code.\nuser: hi\n")
    }

    func testSystemMessagesInsideMessagesJoinTheLeadingSystemPrompt() async throws {
        let backend = ScriptedBackend(script: ["ok"], model: ServedModel(id: "iquest", contextLength: 4096, chatTemplate: nil))
        try await withServer(backend) { client in
            let body = #"{"model": "m", "max_tokens": 8, "system": "Be terse.", "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "system", "content": "Now use French."}, {"role": "user", "content": "c"}]}"#
            let r = try await client.post("/v1/messages", json: body)
            XCTAssertEqual(r.status, .ok, r.text)
        }
        XCTAssertEqual(backend.renderedPrompts[0], "system: Be terse.\n\nNow use French.\nuser: a\nassistant: b\nuser: c\n")
    }

    func testToolResultTurnsBecomeToolMessages() async throws {
        let backend = ScriptedBackend(script: ["It is sunny."], model: ServedModel(id: "iquest", contextLength: 4096, chatTemplate: nil))
        try await withServer(backend) { client in
            let body = #"{"model": "m", "max_tokens": 8, \#(Self.weatherTool), "messages": [{"role": "user", "content": "weather?"}, {"role": "assistant", "content": [{"type": "thinking", "thinking": "need a tool", "signature": "s"}, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]}, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18C"}]}, {"type": "tool_result", "tool_use_id": "toolu_2", "content": "boom", "is_error": true}, {"type": "text", "text": "and?"}]}]}"#
            let r = try await client.post("/v1/messages", json: body)
            XCTAssertEqual(r.status, .ok, r.text)
        }
        XCTAssertEqual(backend.renderedPrompts[0], "user: weather?\nassistant: \ntool: 18C\ntool: Error: boom\nuser: and?\ntools: 1\n")
    }

    func testToolChoiceNoneKeepsToolsOutOfThePrompt() async throws {
        let backend = ScriptedBackend(script: ["ok"], model: ServedModel(id: "iquest", contextLength: 4096, chatTemplate: nil))
        try await withServer(backend) { client in
            let r = try await client.post("/v1/messages", json: Self.body(extra: Self.weatherTool + #", "tool_choice": {"type": "none"}"#))
            XCTAssertEqual(r.status, .ok, r.text)
        }
        XCTAssertFalse(backend.renderedPrompts[0].contains("tools:"))
    }

    func testNamedToolChoiceOffersOnlyThatTool() async throws {
        let backend = ScriptedBackend(script: ["ok"], model: ServedModel(id: "iquest", contextLength: 4096, chatTemplate: nil))
        let tools = #""tools": [{"name": "get_weather", "input_schema": {"type": "object"}}, {"name": "read_file", "input_schema": {"type": "object"}}, {"type": "web_search_20250305", "name": "web_search"}]"#
        try await withServer(backend) { client in
            let all = try await client.post("/v1/messages", json: Self.body(extra: tools))
            XCTAssertEqual(all.status, .ok, all.text)
            let one = try await client.post("/v1/messages", json: Self.body(extra: tools + #", "tool_choice": {"type": "tool", "name": "read_file"}"#))
            XCTAssertEqual(one.status, .ok, one.text)
            let unknown = try await client.post("/v1/messages", json: Self.body(extra: tools + #", "tool_choice": {"type": "tool", "name": "nope"}"#))
            XCTAssertEqual(unknown.status, .badRequest)
        }
        // The server tool (web_search) is skipped, not refused; a named choice keeps one tool.
        XCTAssertEqual(backend.renderedPrompts.map { $0.contains("tools: 2") }, [true, false])
        XCTAssertTrue(backend.renderedPrompts[1].contains("tools: 1"))
    }

    func testThinkingSwitchReachesTheTemplate() async throws {
        let backend = ScriptedBackend(script: ["ok"], model: ServedModel(id: "iquest", contextLength: 4096, chatTemplate: nil))
        try await withServer(backend) { client in
            let r = try await client.post("/v1/messages", json: Self.body(extra: #""thinking": {"type": "enabled", "budget_tokens": 1024}"#))
            XCTAssertEqual(r.status, .ok, r.text)
        }
        XCTAssertTrue(backend.renderedPrompts[0].contains("option enable_thinking"))
    }

    func testCountTokensMatchesTheRenderedPrompt() async throws {
        let backend = ScriptedBackend(script: ["ok"])
        try await withServer(backend) { client in
            let body = #"{"model": "m", "messages": [{"role": "user", "content": "hello"}]}"#
            let r = try await client.post("/v1/messages/count_tokens", json: body)
            XCTAssertEqual(try r.json["input_tokens"] as? Int, "user: hello\n".utf8.count)
        }
    }

    func testErrorsUseAnthropicsShape() async throws {
        let backend = ScriptedBackend(script: ["ok"])
        try await withServer(backend) { client in
            let r = try await client.post("/v1/messages", json: #"{"model": "m", "messages": [{"role": "user", "content": "x"}]}"#)
            XCTAssertEqual(r.status, .badRequest)
            let json = try r.json
            XCTAssertEqual(json["type"] as? String, "error")
            let error = try XCTUnwrap(json["error"] as? [String: Any])
            XCTAssertEqual(error["type"] as? String, "invalid_request_error")
            XCTAssertTrue((error["message"] as? String ?? "").contains("max_tokens"))

            let image = #"{"model": "m", "max_tokens": 4, "messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}"#
            let refused = try await client.post("/v1/messages", json: image)
            XCTAssertEqual(refused.status, .badRequest)
            XCTAssertTrue(((try refused.json["error"] as? [String: Any])?["message"] as? String ?? "").contains("content[0]"))
        }
    }

    func testFailureAfterTheStreamStartedIsAnErrorEvent() async throws {
        let backend = ScriptedBackend(script: ["a", "b", "c"])
        backend.failAfter = 1
        try await withServer(backend) { client in
            let events = try await client.post("/v1/messages", json: Self.body(extra: #""stream": true"#)).namedEvents()
            XCTAssertEqual(events.first?.name, "message_start")
            XCTAssertEqual(events.last?.name, "error")
            XCTAssertEqual((events.last?.data["error"] as? [String: Any])?["type"] as? String, "api_error")
        }
    }

    func testAuthByXAPIKeyOrBearerAndRootIsOpen() async throws {
        let backend = ScriptedBackend(script: ["ok"])
        try await withServer(backend, configure: { $0.apiKey = "sekret" }) { client in
            let none = try await client.post("/v1/messages", json: Self.body())
            XCTAssertEqual(none.status, .unauthorized)
            XCTAssertEqual((try none.json["error"] as? [String: Any])?["type"] as? String, "authentication_error")
            let xKey = try await client.post("/v1/messages", json: Self.body(),
                                             headers: [HTTPField.Name("x-api-key")!: "sekret", HTTPField.Name("anthropic-version")!: "2023-06-01"])
            XCTAssertEqual(xKey.status, .ok)
            let wrong = try await client.post("/v1/messages", json: Self.body(), headers: [HTTPField.Name("x-api-key")!: "nope"])
            XCTAssertEqual(wrong.status, .unauthorized)
            let bearer = try await client.post("/v1/messages", json: Self.body(), key: "sekret")
            XCTAssertEqual(bearer.status, .ok)
            let root = try await client.get("/")
            XCTAssertEqual(root.status, .ok)
            let head = try await client.client.executeRequest(uri: "/", method: .head, headers: [:], body: nil)
            XCTAssertEqual(head.status, .ok)
            let version = try await client.get("/api/version")
            XCTAssertEqual(version.status, .ok)
            let tags = try await client.get("/api/tags")
            XCTAssertEqual(tags.status, .unauthorized)
            XCTAssertNotNil(try tags.json["error"] as? String)
        }
    }
}
