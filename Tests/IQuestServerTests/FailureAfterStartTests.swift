import Foundation
import IQuestServer
import XCTest

/// A failure after the status line (engine error, shutdown) ends the response in a form the
/// client can parse: an error event then `[DONE]`, or the JSON error object after the
/// heartbeat whitespace. Never a cut body.
final class FailureAfterStartTests: XCTestCase {
    func testEngineErrorEndsAStreamWithAnErrorEventAndCountsIt() async throws {
        let backend = ScriptedBackend(script: ["a", "b", "c", "d"])
        backend.failAfter = 2
        try await withServer(backend) { client in
            for (path, body) in [("/v1/chat/completions", chatBody(extra: #""stream": true"#)),
                                 ("/v1/completions", #"{"prompt": "x", "stream": true}"#)] {
                let r = try await client.post(path, json: body)
                XCTAssertEqual(r.status, .ok)
                XCTAssertTrue(r.text.hasSuffix("data: [DONE]\n\n"), r.text)
                let events = try r.events()
                let error = try XCTUnwrap(events.last?["error"] as? [String: Any], r.text)
                XCTAssertEqual(error["type"] as? String, "server_error")
                XCTAssertTrue((error["message"] as? String ?? "").contains("scripted"))
                XCTAssertTrue(error.keys.contains("param") && error.keys.contains("code"))
                // The two tokens before the failure were sent.
                XCTAssertGreaterThanOrEqual(events.count, 3)
            }
            let metrics = try await client.get("/metrics").text
            XCTAssertEqual(sumOfSamples("iquest:responses_failed_after_start_total", in: metrics), 2, metrics)
        }
    }

    func testEngineErrorMakesANonStreamingBodyAJSONErrorObject() async throws {
        let backend = ScriptedBackend(script: ["a", "b", "c"], tokenDelay: .milliseconds(60))
        backend.failAfter = 2
        try await withServer(backend, configure: { $0.heartbeatInterval = .milliseconds(20) }) { client in
            for (path, body) in [("/v1/chat/completions", chatBody()), ("/v1/completions", #"{"prompt": "x"}"#)] {
                let r = try await client.post(path, json: body)
                XCTAssertEqual(r.status, .ok)
                XCTAssertTrue(r.text.hasPrefix(" "), "heartbeats went out before the failure: \(r.text.prefix(10))")
                let error = try r.openAIError()
                XCTAssertEqual(error.type, "server_error")
            }
            let metrics = try await client.get("/metrics").text
            XCTAssertEqual(sumOfSamples(#"iquest:responses_failed_after_start_total{handler="/v1/chat/completions""#, in: metrics), 1)
            XCTAssertEqual(sumOfSamples(#"iquest:responses_failed_after_start_total{handler="/v1/completions""#, in: metrics), 1)
        }
    }

    /// Aborting a place (what shutdown does past its grace period) ends the generation with a
    /// 503-typed error event and gives the place back.
    func testAbortedPlaceEndsTheStreamWithAnErrorEvent() async throws {
        let backend = ScriptedBackend(script: Array(repeating: "x", count: 100), tokenDelay: .milliseconds(20))
        let gate = AdmissionGate(capacity: 4)
        try await withServer(backend, gate: gate) { client in
            let aborter = Task {
                for _ in 0..<100 where gate.held == 0 { try await Task.sleep(for: .milliseconds(10)) }
                try await Task.sleep(for: .milliseconds(100))
                return gate.abortAll()
            }
            let r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""stream": true"#))
            let aborted = try await aborter.value
            XCTAssertEqual(aborted, 1)
            let events = try r.events()
            XCTAssertEqual((events.last?["error"] as? [String: Any])?["type"] as? String, "service_unavailable", r.text)
            XCTAssertTrue(r.text.hasSuffix("data: [DONE]\n\n"))
            XCTAssertEqual(gate.held, 0)
            for _ in 0..<100 where backend.running > 0 { try await Task.sleep(for: .milliseconds(10)) }
            XCTAssertEqual(backend.running, 0, "the aborted generation was cancelled")
        }
    }
}
