import Foundation
import IQuestServer
import XCTest

final class CompletionAndUtilityRouteTests: XCTestCase {
    func testCompletionsTextEchoAndUsage() async throws {
        let backend = ScriptedBackend(script: [" there", "!"])
        try await withServer(backend) { client in
            let r = try await client.post("/v1/completions", json: #"{"prompt": "hello", "max_tokens": 5, "echo": true}"#)
            XCTAssertEqual(r.status, .ok, r.text)
            let json = try r.json
            XCTAssertEqual(json["object"] as? String, "text_completion")
            XCTAssertTrue((json["id"] as? String ?? "").hasPrefix("cmpl-"))
            let choice = try XCTUnwrap((json["choices"] as? [[String: Any]])?.first)
            XCTAssertEqual(choice["text"] as? String, "hello there!")
            XCTAssertEqual(choice["finish_reason"] as? String, "stop")
            XCTAssertEqual((json["usage"] as? [String: Any])?["prompt_tokens"] as? Int, 5)
            // The legacy default is 16 tokens.
            _ = try await client.post("/completions", json: #"{"prompt": "x"}"#)
        }
        XCTAssertEqual(backend.requests.map(\.maxTokens), [5, 16])
        XCTAssertEqual(backend.requests.first?.promptIds, Array("hello".utf8).map { Int($0) })
    }

    func testCompletionsTokenPromptsAndSeveralPrompts() async throws {
        let backend = ScriptedBackend(script: ["x"])
        try await withServer(backend) { client in
            let r = try await client.post("/v1/completions", json: #"{"prompt": [["a", 1]], "max_tokens": 1}"#)
            XCTAssertEqual(r.status, .badRequest)
            XCTAssertEqual(try r.openAIError().param, "prompt")
            let ids = try await client.post("/v1/completions", json: #"{"prompt": [104, 105], "max_tokens": 1}"#)
            XCTAssertEqual(ids.status, .ok, ids.text)
            let many = try await client.post("/v1/completions", json: #"{"prompt": ["a", "bb"], "n": 2, "max_tokens": 1}"#)
            let choices = try XCTUnwrap(try many.json["choices"] as? [[String: Any]])
            XCTAssertEqual(choices.map { $0["index"] as? Int }, [0, 1, 2, 3])
        }
        XCTAssertEqual(backend.requests.map(\.promptIds.count), [2, 1, 1, 2, 2])
    }

    func testCompletionsLegacyLogprobs() async throws {
        let backend = ScriptedBackend(script: ["ab", "c"])
        try await withServer(backend) { client in
            let r = try await client.post("/v1/completions", json: #"{"prompt": "p", "logprobs": 1}"#)
            let choice = try XCTUnwrap((try r.json["choices"] as? [[String: Any]])?.first)
            let lp = try XCTUnwrap(choice["logprobs"] as? [String: Any])
            XCTAssertEqual(lp["tokens"] as? [String], ["ab", "c"])
            XCTAssertEqual(lp["token_logprobs"] as? [Double], [-0.25, -0.25])
            XCTAssertEqual(lp["text_offset"] as? [Int], [0, 2])
            XCTAssertEqual((lp["top_logprobs"] as? [[String: Double]])?.first, ["ab": -0.25])
            let both = try await client.post("/v1/completions", json: #"{"prompt": "p", "logprobs": 1, "echo": true}"#)
            XCTAssertEqual(both.status, .badRequest)
        }
    }

    func testSuffixNeedsFIMTokens() async throws {
        let plain = ScriptedBackend(script: ["x"])
        try await withServer(plain) { client in
            let r = try await client.post("/v1/completions", json: #"{"prompt": "def f(", "suffix": "return 1"}"#)
            XCTAssertEqual(r.status, .badRequest)
            XCTAssertEqual(try r.openAIError().param, "suffix")
        }
        let fim = ScriptedBackend(script: ["x"], model: ServedModel(
            id: "scripted", contextLength: 256, chatTemplate: nil,
            fim: FIMTokens(prefix: "<P>", suffix: "<S>", middle: "<M>")))
        try await withServer(fim) { client in
            let r = try await client.post("/v1/completions", json: #"{"prompt": "def f(", "suffix": "return 1"}"#)
            XCTAssertEqual(r.status, .ok, r.text)
        }
        XCTAssertEqual(fim.requests.first?.promptIds, Array("<P>def f(<S>return 1<M>".utf8).map { Int($0) })
    }

    func testCompletionsStreaming() async throws {
        try await withServer(ScriptedBackend(script: ["a", "b"])) { client in
            let r = try await client.post("/v1/completions", json: #"{"prompt": "p", "stream": true, "stream_options": {"include_usage": true}}"#)
            XCTAssertTrue(r.text.hasSuffix("data: [DONE]\n\n"))
            let events = try r.events()
            let texts = events.flatMap { ($0["choices"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String } }
            XCTAssertEqual(texts.joined(), "ab")
            let finishes = events.flatMap { ($0["choices"] as? [[String: Any]] ?? []).compactMap { $0["finish_reason"] as? String } }
            XCTAssertEqual(finishes, ["stop"])
            XCTAssertEqual((events.last?["usage"] as? [String: Any])?["total_tokens"] as? Int, 3)
        }
    }

    func testModelsHealthTokenizeDetokenize() async throws {
        try await withServer(ScriptedBackend(script: ["x"])) { client in
            let models = try await client.get("/v1/models")
            let data = try XCTUnwrap(try models.json["data"] as? [[String: Any]])
            XCTAssertEqual(data.first?["id"] as? String, "scripted")
            XCTAssertEqual(data.first?["max_model_len"] as? Int, 64)
            XCTAssertEqual(data.first?["object"] as? String, "model")
            let health = try await client.get("/health")
            XCTAssertEqual(health.status, .ok)
            for prefix in ["", "/v1"] {
                let t = try await client.post("\(prefix)/tokenize", json: #"{"prompt": "hi"}"#)
                XCTAssertEqual(try t.json["tokens"] as? [Int], [104, 105])
                XCTAssertEqual(try t.json["count"] as? Int, 2)
                let d = try await client.post("\(prefix)/detokenize", json: #"{"tokens": [104, 105]}"#)
                XCTAssertEqual(try d.json["prompt"] as? String, "hi")
            }
            let chat = try await client.post("/tokenize", json: #"{"messages": [{"role": "user", "content": "q"}]}"#)
            XCTAssertEqual(try chat.json["count"] as? Int, "user: q\n".utf8.count)
            let bad = try await client.post("/detokenize", json: #"{"tokens": ["a"]}"#)
            XCTAssertEqual(bad.status, .badRequest)
        }
    }

    func testMetricsCountRequestsTokensAndLatency() async throws {
        try await withServer(ScriptedBackend(script: ["a", "b"])) { client in
            _ = try await client.post("/v1/chat/completions", json: chatBody())
            _ = try await client.post("/v1/chat/completions", json: "{")
            let r = try await client.get("/metrics")
            XCTAssertEqual(r.status, .ok)
            let text = r.text
            for needle in ["iquest:prompt_tokens_total 9", "iquest:generation_tokens_total 2",
                           "iquest:time_to_first_token_seconds_count 1", "iquest:inter_token_latency_seconds_count 1",
                           "iquest:num_requests_running 0", "iquest:num_requests_waiting 0",
                           #"iquest:request_success_total{finished_reason="stop"} 1"#] {
                XCTAssertTrue(text.contains(needle), "missing \(needle) in\n\(text)")
            }
            XCTAssertTrue(text.contains(#"status="200""#) && text.contains(#"status="400""#), text)
        }
    }
}
