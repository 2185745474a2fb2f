import Foundation
import IQuestServer
import XCTest

/// Graceful shutdown under load (what SIGTERM triggers in `iquest serve`): admission closes,
/// requests that finish within the grace period finish, the rest end with an error event or a
/// JSON error object; nothing is cut.
final class ShutdownTests: XCTestCase {
    func testShutdownDuringLoadCutsNothing() async throws {
        // Long requests: 80 tokens × 25 ms = 2 s, far past the 800 ms grace period; short ones
        // (10 tokens, 250 ms) are still running when the shutdown starts and finish within it.
        let backend = ScriptedBackend(script: Array(repeating: "x", count: 80), tokenDelay: .milliseconds(25))
        try await withLiveServer(backend, configure: {
            $0.shutdownGracePeriod = .milliseconds(800)
            $0.heartbeatInterval = .milliseconds(50)
        }) { server in
            let port = server.port
            let long = (0..<8).map { i in
                Task {
                    await generation(port: port, body: #"{"messages": [{"role": "user", "content": "long \#(i)"}], "stream": \#(i % 2 == 0)}"#,
                                     streaming: i % 2 == 0)
                }
            }
            let short = (0..<4).map { i in
                Task {
                    await generation(port: port, body: #"{"messages": [{"role": "user", "content": "short"}], "max_tokens": 10, "stream": \#(i % 2 == 0)}"#,
                                     streaming: i % 2 == 0)
                }
            }
            for _ in 0..<200 where backend.running < 12 { try await Task.sleep(for: .milliseconds(5)) }
            XCTAssertEqual(backend.running, 12, "every request is running before the shutdown starts")
            let shutdown = Task { await server.group.triggerGracefulShutdown() }
            try await Task.sleep(for: .milliseconds(50))
            // During the grace period: new requests are refused, /health says why.
            let late = await generation(port: port, body: #"{"messages": [{"role": "user", "content": "late"}]}"#, streaming: false)
            XCTAssertEqual(late, .refused(503))
            let health = await exchange(port: port, rawRequest("GET", "/health")).response
            XCTAssertEqual(health?.status, 503)
            XCTAssertTrue(health?.text.contains("shutting_down") ?? false)

            var longOutcomes: [Outcome] = []
            for task in long { longOutcomes.append(await task.value) }
            var shortOutcomes: [Outcome] = []
            for task in short { shortOutcomes.append(await task.value) }
            await shutdown.value
            XCTAssertEqual(shortOutcomes, Array(repeating: .complete, count: 4), "requests within the grace period finish")
            XCTAssertEqual(longOutcomes, Array(repeating: .errorEnd("service_unavailable"), count: 8),
                           "requests past the grace period end with an error, none cut")
            let exposition = server.metrics.exposition()
            XCTAssertEqual(sumOfSamples("iquest:responses_failed_after_start_total", in: exposition), 8)
            XCTAssertEqual(sumOfSamples(#"iquest:requests_rejected_total{reason="shutting_down"}"#, in: exposition), 1)
            for _ in 0..<100 where backend.running > 0 { try await Task.sleep(for: .milliseconds(10)) }
            XCTAssertEqual(backend.running, 0)
        }
    }
}
