import Foundation
import IQuestServer
import NIOCore
import XCTest

/// Bad input gets the right 4xx in OpenAI's shape, and the server keeps serving.
final class ErrorAndAuthRouteTests: XCTestCase {
    static func assertServes(_ client: ServerClient, key: String? = nil, file: StaticString = #filePath, line: UInt = #line) async throws {
        let r = try await client.post("/v1/chat/completions", json: chatBody(), key: key)
        XCTAssertEqual(r.status, .ok, r.text, file: file, line: line)
    }

    func testInvalidRequestsAre400WithTheParamNamed() async throws {
        let cases: [(body: String, param: String?)] = [
            ("{not json", nil),
            ("[1, 2]", nil),
            (#"{"messages": []}"#, "messages"),
            (#"{"messages": "hi"}"#, "messages"),
            (#"{}"#, "messages"),
            (#"{"messages": [{"role": "wizard", "content": "x"}]}"#, "messages[0].role"),
            (#"{"messages": [{"content": "x"}]}"#, "messages[0].role"),
            (#"{"messages": [{"role": "user"}]}"#, "messages[0].content"),
            (#"{"messages": [{"role": "user", "content": 5}]}"#, "messages[0].content"),
            (#"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}"#, "messages[0].content[0]"),
            (#"{"messages": [{"role": "tool", "content": "x"}]}"#, "messages[0].tool_call_id"),
            (chatBody(extra: #""temperature": "hot""#), "temperature"),
            (chatBody(extra: #""temperature": 3"#), "temperature"),
            (chatBody(extra: #""top_p": 0"#), "top_p"),
            (chatBody(extra: #""max_tokens": 0"#), "max_tokens"),
            (chatBody(extra: #""max_tokens": 1.5"#), "max_tokens"),
            (chatBody(extra: #""n": 0"#), "n"),
            (chatBody(extra: #""stream": "yes""#), "stream"),
            (chatBody(extra: #""stop": [1]"#), "stop"),
            (chatBody(extra: #""top_logprobs": 3"#), "top_logprobs"),
            (chatBody(extra: #""tools": [{"type": "function", "function": {}}]"#), "tools[0].function.name"),
            (chatBody(extra: #""tool_choice": "required""#), "tool_choice"),
            (chatBody(extra: #""tool_choice": 7"#), "tool_choice"),
        ]
        try await withServer(ScriptedBackend(script: ["ok"])) { client in
            for c in cases {
                let r = try await client.post("/v1/chat/completions", json: c.body)
                XCTAssertEqual(r.status, .badRequest, "\(c.body) → \(r.text)")
                let error = try r.openAIError()
                XCTAssertEqual(error.type, "invalid_request_error", c.body)
                XCTAssertEqual(error.param, c.param, "\(c.body) → \(error.message)")
                XCTAssertFalse(error.message.isEmpty)
            }
            try await Self.assertServes(client)
        }
    }

    func testUnknownFieldsAreIgnored() async throws {
        try await withServer(ScriptedBackend(script: ["ok"])) { client in
            let r = try await client.post("/v1/chat/completions",
                                          json: chatBody(extra: #""user": "u1", "parallel_tool_calls": true, "some_future_field": {"x": [1]}"#))
            XCTAssertEqual(r.status, .ok, r.text)
        }
    }

    func testInvalidUTF8AndOversizedBodies() async throws {
        try await withServer(ScriptedBackend(script: ["ok"]), configure: { $0.maxBodyBytes = 4096 }) { client in
            var bytes = Array(chatBody().utf8)
            bytes.insert(contentsOf: [0xC3, 0x28], at: bytes.count - 10)
            let bad = try await client.post("/v1/chat/completions", body: ByteBuffer(bytes: bytes))
            XCTAssertEqual(bad.status, .badRequest)
            XCTAssertTrue(try bad.openAIError().message.contains("UTF-8"))
            let big = try await client.post("/v1/chat/completions", json: chatBody(String(repeating: "a", count: 10_000)))
            XCTAssertEqual(big.status, .contentTooLarge)
            XCTAssertEqual(try big.openAIError().type, "invalid_request_error")
            try await Self.assertServes(client)
        }
    }

    func testUnknownRouteIs404InOpenAIShape() async throws {
        try await withServer(ScriptedBackend(script: ["ok"])) { client in
            let r = try await client.get("/v1/engines")
            XCTAssertEqual(r.status, .notFound)
            XCTAssertEqual(try r.openAIError().type, "not_found_error")
        }
    }

    func testAPIKeyRequiredExceptOnPublicRoutes() async throws {
        try await withServer(ScriptedBackend(script: ["ok"]), configure: { $0.apiKey = "sekret" }) { client in
            let missing = try await client.post("/v1/chat/completions", json: chatBody())
            XCTAssertEqual(missing.status, .unauthorized)
            XCTAssertEqual(missing.headers[.wwwAuthenticate], "Bearer")
            XCTAssertEqual(try missing.openAIError().type, "authentication_error")
            for wrong in ["sekreT", "sekret2", "", "s"] {
                let r = try await client.post("/v1/chat/completions", json: chatBody(), key: wrong)
                XCTAssertEqual(r.status, .unauthorized, wrong)
            }
            for path in ["/metrics", "/tokenize"] {
                let r = path == "/metrics" ? try await client.get(path) : try await client.post(path, json: #"{"prompt": "a"}"#)
                XCTAssertEqual(r.status, .unauthorized, path)
            }
            for path in ["/health", "/v1/models", "/models"] {
                let r = try await client.get(path)
                XCTAssertEqual(r.status, .ok, path)
            }
            try await Self.assertServes(client, key: "sekret")
            let metrics = try await client.get("/metrics", key: "sekret")
            XCTAssertEqual(metrics.status, .ok)
        }
    }

    func testConstantTimeComparison() {
        // Behavioural check of the comparison itself (timing is not asserted).
        XCTAssertTrue(APIKeyCheck.equal(Array("abc".utf8), Array("abc".utf8)))
        XCTAssertFalse(APIKeyCheck.equal(Array("abc".utf8), Array("abd".utf8)))
        XCTAssertFalse(APIKeyCheck.equal(Array("abc".utf8), Array("abcd".utf8)))
        XCTAssertFalse(APIKeyCheck.equal([], Array("a".utf8)))
        XCTAssertTrue(APIKeyCheck.equal([], []))
    }

    func testLoadingAndFailedModelAnswer503() async throws {
        let backend = ScriptedBackend(script: ["ok"])
        backend.state = .loading("reading weights 3/10")
        try await withServer(backend) { client in
            let health = try await client.get("/health")
            XCTAssertEqual(health.status, .serviceUnavailable)
            XCTAssertEqual(try health.json["progress"] as? String, "reading weights 3/10")
            let chat = try await client.post("/v1/chat/completions", json: chatBody())
            XCTAssertEqual(chat.status, .serviceUnavailable)
            XCTAssertNotNil(chat.headers[.retryAfter])
            XCTAssertTrue(try chat.openAIError().message.contains("loading"))
            backend.state = .failed("weights truncated")
            let failed = try await client.get("/health")
            XCTAssertEqual(failed.status, .serviceUnavailable)
            XCTAssertEqual(try failed.json["status"] as? String, "error")
            backend.state = .ready(ServedModel(id: "scripted", contextLength: 64, chatTemplate: nil))
            let ready = try await client.get("/health")
            XCTAssertEqual(ready.status, .ok)
            try await Self.assertServes(client)
        }
    }
}
