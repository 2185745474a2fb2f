import Foundation
import Hummingbird
import HummingbirdTesting
import IQuestEngine
import IQuestServer
import IQuestTemplates
import XCTest

/// `/infill` in llama-server's shape.
final class InfillRouteTests: XCTestCase {
    func testNoFIMTokensIs501() async throws {
        try await withServer(ScriptedBackend(script: ["x"])) { client in
            let r = try await client.post("/infill", json: #"{"input_prefix": "a", "input_suffix": "b"}"#)
            XCTAssertEqual(r.status, .notImplemented)
            XCTAssertTrue(try r.openAIError().message.contains("fill-in-the-middle"))
        }
    }

    func testStreamedAndWholeAnswersAgree() async throws {
        let model = ServedModel(id: "m", contextLength: 512, chatTemplate: nil, fim: FIMTokens(prefix: "<P>", suffix: "<S>", middle: "<M>"))
        let backend = ScriptedBackend(script: ["return", " a + b"], model: model)
        try await withServer(backend) { client in
            let body = #"{"input_prefix": "def add(a, b):\n    ", "input_suffix": "\n", "prompt": "", "n_predict": 8, "temperature": 0}"#
            let whole = try await client.post("/infill", json: body).json
            XCTAssertEqual(whole["content"] as? String, "return a + b")
            XCTAssertEqual(whole["stop"] as? Bool, true)
            XCTAssertEqual(whole["tokens_predicted"] as? Int, 2)
            let events = try await client.post("/infill", json: body.replacingOccurrences(of: "}", with: #", "stream": true}"#)).events()
            XCTAssertEqual(events.compactMap { $0["content"] as? String }.joined(), "return a + b")
            XCTAssertEqual(events.last?["stop"] as? Bool, true)
        }
        XCTAssertEqual(backend.requests[0].sampling.temperature, 0)
        XCTAssertEqual(backend.requests[0].maxTokens, 8)
    }

    /// The tiny IQuest checkpoint's own FIM tokens, in llama-server's order, token by token.
    func testPromptTokensOnTheTinyIQuestCheckpoint() async throws {
        let engine = EngineBackend(path: fixturePath("tiny-iquest/dense"), threads: 1, servedName: "tiny", maxModelLen: 256)
        defer { engine.shutdown() }
        for _ in 0..<600 {
            if case .ready = engine.state { break }
            if case .failed(let message) = engine.state { XCTFail(message); return }
            try await Task.sleep(for: .milliseconds(20))
        }
        let recorder = RecordingBackend(engine)
        let app = Application(router: makeServerRouter(backend: recorder, configuration: ServerConfiguration(), metrics: ServerMetrics()))
        try await app.test(.router) { client in
            let body = #"{"input_prefix": "def f(", "input_suffix": "):\n", "prompt": "x", "input_extra": [{"filename": "a.py", "text": "A = 1\n"}], "n_predict": 2, "temperature": 0}"#
            let r = try await client.executeRequest(uri: "/infill", method: .post, headers: [.contentType: "application/json"],
                                                    body: ByteBuffer(string: body))
            XCTAssertEqual(r.status, .ok, String(buffer: r.body))
        }
        let ids = try XCTUnwrap(recorder.requests.first?.promptIds)
        func piece(_ s: String) throws -> [Int] { try engine.tokenize(s, addSpecialTokens: false) }
        // The checkpoint's marker ids (tokenizer_config.json).
        let (prefix, middle, suffix, repo, file) = (980, 981, 982, 985, 986)
        // Text between two markers is one piece: it is tokenized as one run.
        let expected = [repo] + (try piece("myproject\n")) + [file] + (try piece("a.py\nA = 1\n"))
            + [file] + (try piece("filename\n")) + [prefix] + (try piece("def f(")) + [suffix] + (try piece("):\n"))
            + [middle] + (try piece("x"))
        XCTAssertEqual(Array(ids.suffix(expected.count)), expected)
        // Nothing but special tokens (BOS) before the layout.
        XCTAssertLessThanOrEqual(ids.count - expected.count, 1)
    }
}

/// Forwards to a real backend and keeps the requests it was given.
final class RecordingBackend: InferenceBackend, @unchecked Sendable {
    let inner: any InferenceBackend
    private let lock = NSLock()
    private var _requests: [GenerationRequest] = []
    init(_ inner: any InferenceBackend) { self.inner = inner }
    var requests: [GenerationRequest] { lock.withLock { _requests } }
    var state: BackendState { inner.state }
    var queueDepth: (waiting: Int, running: Int) { inner.queueDepth }
    func renderChat(messages: [TemplateValue], tools: [TemplateValue]?, options: [String: TemplateValue]) throws -> String {
        try inner.renderChat(messages: messages, tools: tools, options: options)
    }
    func tokenize(_ text: String, addSpecialTokens: Bool) throws -> [Int] { try inner.tokenize(text, addSpecialTokens: addSpecialTokens) }
    func detokenize(_ ids: [Int]) throws -> String { try inner.detokenize(ids) }
    func tokenText(_ id: Int) -> String { inner.tokenText(id) }
    func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        lock.withLock { _requests.append(request) }
        return inner.generate(request)
    }
}
