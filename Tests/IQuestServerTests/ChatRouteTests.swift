import Foundation
import IQuestEngine
import IQuestServer
import XCTest

final class ChatRouteTests: XCTestCase {
    func testPlainChatCompletionShapeAndUsage() async throws {
        let backend = ScriptedBackend(script: ["Hel", "lo", " world"])
        try await withServer(backend) { client in
            for path in ["/v1/chat/completions", "/chat/completions"] {
                let r = try await client.post(path, json: chatBody())
                XCTAssertEqual(r.status, .ok, r.text)
                let json = try r.json
                XCTAssertTrue((json["id"] as? String ?? "").hasPrefix("chatcmpl-"))
                XCTAssertEqual(json["object"] as? String, "chat.completion")
                XCTAssertEqual(json["model"] as? String, "scripted")
                XCTAssertNotNil(json["created"] as? Int)
                XCTAssertNotNil(json["system_fingerprint"] as? String)
                let choice = try XCTUnwrap((json["choices"] as? [[String: Any]])?.first)
                let message = try XCTUnwrap(choice["message"] as? [String: Any])
                XCTAssertEqual(message["role"] as? String, "assistant")
                XCTAssertEqual(message["content"] as? String, "Hello world")
                XCTAssertNil(message["tool_calls"])
                XCTAssertEqual(choice["finish_reason"] as? String, "stop")
                let usage = try XCTUnwrap(json["usage"] as? [String: Any])
                // The scripted tokenizer gives one id per byte of "user: hi\n".
                XCTAssertEqual(usage["prompt_tokens"] as? Int, 9)
                XCTAssertEqual(usage["completion_tokens"] as? Int, 3)
                XCTAssertEqual(usage["total_tokens"] as? Int, 12)
                XCTAssertEqual((usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int, 0)
            }
        }
        XCTAssertEqual(backend.requests.count, 2)
    }

    func testContentPartsDeveloperRoleAndToolMessagesReachTheTemplate() async throws {
        let backend = ScriptedBackend(script: ["ok"])
        try await withServer(backend) { client in
            let body = #"""
            {"messages": [{"role": "developer", "content": [{"type": "text", "text": "be "}, {"type": "text", "text": "brief"}]},
                          {"role": "user", "content": "q"},
                          {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]},
                          {"role": "tool", "tool_call_id": "c1", "content": "42"}]}
            """#
            let r = try await client.post("/v1/chat/completions", json: body)
            XCTAssertEqual(r.status, .ok, r.text)
        }
        XCTAssertEqual(backend.renderedPrompts.last, "system: be brief\nuser: q\nassistant: \ntool: 42\n")
    }

    func testMaxTokensLengthAndContextCap() async throws {
        let backend = ScriptedBackend(script: ["a", "b", "c", "d"])
        try await withServer(backend) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""max_tokens": 2"#))
            let choice = try XCTUnwrap((try r.json["choices"] as? [[String: Any]])?.first)
            XCTAssertEqual((choice["message"] as? [String: Any])?["content"] as? String, "ab")
            XCTAssertEqual(choice["finish_reason"] as? String, "length")
            // max_completion_tokens is the newer name; a request above the context is capped to what is left.
            _ = try await client.post("/v1/chat/completions", json: chatBody(extra: #""max_completion_tokens": 100000"#))
            _ = try await client.post("/v1/chat/completions", json: chatBody())
        }
        XCTAssertEqual(backend.requests.map(\.maxTokens), [2, 64 - 9, 64 - 9])
    }

    func testPromptLongerThanContextIs400WithCounts() async throws {
        let backend = ScriptedBackend(script: ["x"])
        try await withServer(backend) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody(String(repeating: "z", count: 80)))
            XCTAssertEqual(r.status, .badRequest)
            let error = try r.openAIError()
            XCTAssertTrue(error.message.contains("87 tokens") && error.message.contains("64"), error.message)
            XCTAssertEqual(error.type, "invalid_request_error")
            // Still serving.
            let ok = try await client.post("/v1/chat/completions", json: chatBody())
            XCTAssertEqual(ok.status, .ok)
        }
        XCTAssertEqual(backend.requests.count, 1)
    }

    func testSamplingDefaultsFromTheModelAndRequestOverrides() async throws {
        let model = ServedModel(id: "scripted", contextLength: 64, chatTemplate: nil,
                                samplingDefaults: SamplingDefaults(temperature: 0.6, topP: 0.85, topK: 20))
        let backend = ScriptedBackend(script: ["x"], model: model)
        try await withServer(backend) { client in
            _ = try await client.post("/v1/chat/completions", json: chatBody())
            _ = try await client.post("/v1/chat/completions", json: chatBody(extra: #""temperature": 0, "top_p": 0.5, "top_k": -1, "min_p": 0.1, "presence_penalty": 0.5, "frequency_penalty": -0.5, "repetition_penalty": 1.1, "seed": 7, "stop": ["@@"]"#))
        }
        let (first, second) = (backend.requests[0], backend.requests[1])
        XCTAssertEqual(first.sampling.temperature, 0.6)
        XCTAssertEqual(first.sampling.topP, 0.85)
        XCTAssertEqual(first.sampling.topK, 20)
        XCTAssertEqual(first.sampling.minP, 0)
        XCTAssertNil(first.sampling.seed)
        XCTAssertEqual(second.sampling.temperature, 0)
        XCTAssertEqual(second.sampling.topP, 0.5)
        XCTAssertEqual(second.sampling.topK, 0)
        XCTAssertEqual(second.sampling.minP, 0.1, accuracy: 1e-6)
        XCTAssertEqual(second.sampling.presencePenalty, 0.5)
        XCTAssertEqual(second.sampling.frequencyPenalty, -0.5)
        XCTAssertEqual(second.sampling.repetitionPenalty, 1.1, accuracy: 1e-6)
        XCTAssertEqual(second.sampling.seed, 7)
        XCTAssertEqual(second.stopStrings, ["@@"])
    }

    func testNChoicesGetDistinctReproducibleSeeds() async throws {
        let backend = ScriptedBackend(script: ["x"])
        try await withServer(backend) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""n": 2, "seed": 11"#))
            let choices = try XCTUnwrap(try r.json["choices"] as? [[String: Any]])
            XCTAssertEqual(choices.map { $0["index"] as? Int }, [0, 1])
            XCTAssertEqual((try r.json["usage"] as? [String: Any])?["completion_tokens"] as? Int, 2)
        }
        XCTAssertEqual(backend.requests.map(\.sampling.seed), [11, 12])
    }

    func testLogprobsShape() async throws {
        let backend = ScriptedBackend(script: ["a", "b"])
        try await withServer(backend) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""logprobs": true, "top_logprobs": 2"#))
            let choice = try XCTUnwrap((try r.json["choices"] as? [[String: Any]])?.first)
            let content = try XCTUnwrap((choice["logprobs"] as? [String: Any])?["content"] as? [[String: Any]])
            XCTAssertEqual(content.count, 2)
            XCTAssertEqual(content[0]["token"] as? String, "a")
            XCTAssertEqual(content[0]["logprob"] as? Double, -0.25)
            XCTAssertEqual(content[0]["bytes"] as? [Int], [97])
            let top = try XCTUnwrap(content[1]["top_logprobs"] as? [[String: Any]])
            XCTAssertEqual(top.map { $0["token"] as? String }, ["b", "a"])
            let plain = try await client.post("/v1/chat/completions", json: chatBody())
            let plainChoice = try XCTUnwrap((try plain.json["choices"] as? [[String: Any]])?.first)
            XCTAssertTrue(plainChoice["logprobs"] is NSNull)
        }
        XCTAssertEqual(backend.requests.first?.topLogprobs, 2)
    }

    func testStreamingWireFormat() async throws {
        let backend = ScriptedBackend(script: ["Hel", "lo", "!"])
        try await withServer(backend) { client in
            let r = try await client.post("/v1/chat/completions",
                                          json: chatBody(extra: #""stream": true, "stream_options": {"include_usage": true}"#))
            XCTAssertEqual(r.status, .ok)
            XCTAssertEqual(r.headers[.contentType], "text/event-stream")
            XCTAssertTrue(r.text.hasSuffix("data: [DONE]\n\n"), r.text)
            let events = try r.events()
            XCTAssertTrue(events.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
            let ids = Set(events.compactMap { $0["id"] as? String })
            XCTAssertEqual(ids.count, 1)
            let first = try XCTUnwrap((events.first?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])
            XCTAssertEqual(first["role"] as? String, "assistant")
            var text = ""
            var finish: [String] = []
            for e in events {
                for c in e["choices"] as? [[String: Any]] ?? [] {
                    text += (c["delta"] as? [String: Any])?["content"] as? String ?? ""
                    if let f = c["finish_reason"] as? String { finish.append(f) }
                }
            }
            XCTAssertEqual(text, "Hello!")
            XCTAssertEqual(finish, ["stop"])
            let usageEvent = try XCTUnwrap(events.last)
            XCTAssertEqual((usageEvent["choices"] as? [Any])?.count, 0)
            XCTAssertEqual((usageEvent["usage"] as? [String: Any])?["completion_tokens"] as? Int, 3)
        }
    }
}
