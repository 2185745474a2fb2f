import Foundation
import IQuestEngine
import IQuestServer
import XCTest

/// A consumer that goes away (client disconnected) stops its generation and frees the engine.
final class CancellationTests: XCTestCase {
    func testDroppingTheEventStreamCancelsTheGeneration() async throws {
        let backend = ScriptedBackend(script: Array(repeating: "x", count: 200), tokenDelay: .milliseconds(10))
        var seen = 0
        for try await event in pumpEvents(backend.generate(GenerationRequest(promptIds: [1], maxTokens: 200)),
                                          pingInterval: .seconds(60)) {
            if case .generation(.token) = event { seen += 1 }
            if seen == 2 { break }
        }
        for _ in 0..<200 where backend.cancellations == 0 { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(backend.cancellations, 1)
    }

    func testPingsArriveWhileNothingElseDoes() async throws {
        let backend = ScriptedBackend(script: ["a"], tokenDelay: .milliseconds(300))
        var pings = 0
        var tokens = 0
        for try await event in pumpEvents(backend.generate(GenerationRequest(promptIds: [1], maxTokens: 5)),
                                          pingInterval: .milliseconds(50)) {
            switch event {
            case .ping: pings += 1
            case .generation(.token): tokens += 1
            default: break
            }
        }
        XCTAssertEqual(tokens, 1)
        XCTAssertGreaterThanOrEqual(pings, 2)
    }

    func testNonStreamingResponsesSendWhitespaceHeartbeats() async throws {
        let backend = ScriptedBackend(script: ["a", "b"], tokenDelay: .milliseconds(200))
        try await withServer(backend, configure: { $0.heartbeatInterval = .milliseconds(40) }) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody())
            XCTAssertEqual(r.status, .ok)
            XCTAssertTrue(r.text.hasPrefix("  "), "no heartbeat before the JSON: \(r.text.prefix(20))")
            let choice = try XCTUnwrap((try r.json["choices"] as? [[String: Any]])?.first)
            XCTAssertEqual((choice["message"] as? [String: Any])?["content"] as? String, "ab")
        }
    }

    /// The real engine on the tiny IQuest checkpoint: results equal the Generator's; a dropped
    /// request stops early and the next one runs.
    func testEngineBackendServesCancelsAndRecovers() async throws {
        let path = fixturePath("tiny-iquest/dense")
        let backend = EngineBackend(path: path, threads: 1, servedName: "tiny", maxModelLen: 256)
        defer { backend.shutdown() }
        var model: ServedModel?
        for _ in 0..<600 {
            if case .ready(let m) = backend.state { model = m; break }
            if case .failed(let message) = backend.state { XCTFail(message); return }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(model?.id, "tiny")
        XCTAssertEqual(model?.contextLength, 256)
        // The IQuest model card's sampling defaults.
        XCTAssertEqual(model?.samplingDefaults.temperature, 0.6)
        XCTAssertEqual(model?.samplingDefaults.topK, 20)

        let prompt = try backend.tokenize("def add(a, b):", addSpecialTokens: true)
        let request = GenerationRequest(promptIds: prompt, sampling: .greedy, maxTokens: 12)
        var served: [Int] = []
        for try await event in backend.generate(request) {
            if case .token(let t) = event { served.append(t.id) }
        }
        let loaded = try LoadedModel.load(path: path, threads: 1)
        var direct: [Int] = []
        try Generator(loaded: loaded, contextLength: 256).generate(request) { direct.append($0.id); return true }
        XCTAssertEqual(served, direct)
        XCTAssertFalse(served.isEmpty)

        // A client that goes away at once: its request is dropped (queued) or stopped (running)
        // long before its 240 tokens, and the engine serves the next request.
        let long = GenerationRequest(promptIds: prompt, sampling: .greedy, maxTokens: 240)
        _ = backend.generate(long)
        var again: [Int] = []
        var finish: FinishReason?
        for try await event in backend.generate(request) {
            if case .token(let t) = event { again.append(t.id) }
            if case .finished(let stats) = event { finish = stats.finishReason }
        }
        XCTAssertEqual(again, direct)
        XCTAssertEqual(backend.cancelledCount, 1)
        XCTAssertNotNil(finish)
        XCTAssertEqual(backend.queueDepth.waiting, 0)

        // A second choice of the same prompt (how routes run n > 1) reuses the first's full
        // blocks, and every block is back in the pool once both are done.
        let longPrompt = try backend.tokenize(String(repeating: "def add(a, b):\n    return a + b\n", count: 4), addSpecialTokens: true)
        XCTAssertGreaterThan(longPrompt.count, 32)
        var cached: [Int] = []
        var outputs: [[Int]] = []
        for _ in 0..<2 {
            var ids: [Int] = []
            for try await event in backend.generate(GenerationRequest(promptIds: longPrompt, sampling: .greedy, maxTokens: 6)) {
                if case .token(let t) = event { ids.append(t.id) }
                if case .finished(let stats) = event { cached.append(stats.cachedPromptTokens) }
            }
            outputs.append(ids)
        }
        XCTAssertEqual(cached.first, 0)
        XCTAssertEqual(cached.last, (longPrompt.count - 1) / 16 * 16)
        XCTAssertEqual(outputs[0], outputs[1])
        // The counters are published after the step that finished the request.
        for _ in 0..<100 where backend.engineStats?.blocksUsed != 0 { try await Task.sleep(for: .milliseconds(10)) }
        let stats = try XCTUnwrap(backend.engineStats)
        XCTAssertEqual(stats.blocksUsed, 0)
        XCTAssertGreaterThan(stats.blocksCached, 0)
    }
}
