import Foundation
import IQuestEngine
import IQuestServer
import XCTest

/// What the HTTP layer adds around the batching engine: 503 when the queue is full, cached
/// prompt tokens in `usage`, and the engine's state on /metrics.
final class BatchingRouteTests: XCTestCase {
    func testQueueFullAnswers503WithRetryAfterAndRecovers() async throws {
        let backend = ScriptedBackend(script: ["a", "b"])
        let gate = AdmissionGate(capacity: 1)
        let held = try gate.admit()
        try await withServer(backend, gate: gate) { client in
            let bodies = [("/v1/chat/completions", chatBody()), ("/v1/chat/completions", chatBody(extra: #""stream": true"#)),
                          ("/v1/completions", #"{"prompt": "x"}"#), ("/v1/completions", #"{"prompt": "x", "stream": true}"#)]
            for (path, body) in bodies {
                let r = try await client.post(path, json: body)
                XCTAssertEqual(r.status, .serviceUnavailable, "\(path) \(body)")
                XCTAssertEqual(r.headers[.retryAfter], "1")
                let error = try r.openAIError()
                XCTAssertEqual(error.type, "service_unavailable")
                XCTAssertTrue(error.message.contains("all 1 places"), error.message)
            }
            XCTAssertTrue(backend.requests.isEmpty, "a refused request must not reach the engine")
            let metrics = try await client.get("/metrics").text
            XCTAssertTrue(metrics.contains(#"iquest:requests_rejected_total{reason="busy"} 4"#), metrics)
            held.release()
            let ok = try await client.post("/v1/chat/completions", json: chatBody())
            XCTAssertEqual(ok.status, .ok)
            XCTAssertEqual(gate.held, 0, "the place is given back once the response is written")
        }
    }

    func testUsageReportsCachedPromptTokens() async throws {
        let backend = ScriptedBackend(script: ["a", "b"])
        backend.cachedPromptTokens = 16
        try await withServer(backend) { client in
            let chat = try await client.post("/v1/chat/completions", json: chatBody())
            let usage = try XCTUnwrap(try chat.json["usage"] as? [String: Any])
            XCTAssertEqual((usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int, 16)

            let stream = try await client.post("/v1/chat/completions",
                                               json: chatBody(extra: #""stream": true, "stream_options": {"include_usage": true}"#))
            let last = try XCTUnwrap(try stream.events().last)
            let streamed = try XCTUnwrap(last["usage"] as? [String: Any])
            XCTAssertEqual((streamed["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int, 16)

            // Completions with two prompts: each generation's cached tokens add up.
            let completion = try await client.post("/v1/completions", json: #"{"prompt": ["x", "y"], "max_tokens": 1}"#)
            let cu = try XCTUnwrap(try completion.json["usage"] as? [String: Any])
            XCTAssertEqual((cu["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int, 32)
        }
    }

    func testMetricsExposeTheEngineState() async throws {
        let backend = ScriptedBackend(script: ["a"])
        var stats = SchedulerSnapshot()
        stats.blocksUsed = 5
        stats.blocksCached = 7
        stats.blocksTotal = 64
        stats.blockSize = 16
        stats.promptTokens = 200
        stats.cachedPromptTokens = 50
        stats.steps = 10
        stats.stepSequencesTotal = 35
        stats.lastStepSequences = 4
        stats.preemptions = 2
        backend.engineStats = stats
        try await withServer(backend) { client in
            let text = try await client.get("/metrics").text
            func value(_ name: String) -> Double? {
                text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
            }
            XCTAssertEqual(value("iquest:kv_blocks_used"), 5)
            XCTAssertEqual(value("iquest:kv_blocks_cached"), 7)
            XCTAssertEqual(value("iquest:kv_blocks_total"), 64)
            XCTAssertEqual(value("iquest:prefix_cache_hit_rate"), 0.25)
            XCTAssertEqual(value("iquest:engine_steps_total"), 10)
            XCTAssertEqual(value("iquest:batch_sequences_total"), 35)
            XCTAssertEqual(value("iquest:batch_size_last_step"), 4)
            XCTAssertEqual(value("iquest:num_preemptions_total"), 2)
            let rss = try XCTUnwrap(value("process_resident_memory_bytes"))
            XCTAssertGreaterThan(rss, 1_048_576)
        }
    }
}
