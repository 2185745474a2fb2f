import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IQuestServer
import XCTest

/// Runs `body` against an in-process server (Hummingbird's router test client) over `backend`.
func withServer(_ backend: ScriptedBackend, configure: (inout ServerConfiguration) -> Void = { _ in }, gate: AdmissionGate? = nil,
                _ body: @escaping @Sendable (ServerClient) async throws -> Void) async throws {
    var config = ServerConfiguration()
    config.pingInterval = .seconds(60)
    configure(&config)
    let metrics = ServerMetrics()
    let app = Application(router: makeServerRouter(backend: backend, configuration: config, metrics: metrics, gate: gate))
    try await app.test(.router) { client in
        try await body(ServerClient(client: client, metrics: metrics))
    }
}

struct ServerClient: Sendable {
    let client: any TestClientProtocol
    let metrics: ServerMetrics

    func post(_ uri: String, json: String, key: String? = nil) async throws -> TestResponse {
        try await post(uri, body: ByteBuffer(string: json), key: key)
    }

    func post(_ uri: String, body: ByteBuffer, key: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await client.executeRequest(uri: uri, method: .post, headers: headers, body: body)
    }

    func get(_ uri: String, key: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await client.executeRequest(uri: uri, method: .get, headers: headers, body: nil)
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    /// The body as a JSON object (fails the test otherwise).
    var json: [String: Any] {
        get throws {
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
            return try XCTUnwrap(object as? [String: Any], "body is not a JSON object: \(text)")
        }
    }

    /// The `data:` payloads of an SSE body, `[DONE]` excluded; fails on any other line kind.
    func events() throws -> [[String: Any]] {
        var out: [[String: Any]] = []
        for block in text.components(separatedBy: "\n\n") where !block.isEmpty {
            XCTAssertTrue(block.hasPrefix("data: ") || block.hasPrefix(":"), "unexpected SSE block: \(block)")
            guard block.hasPrefix("data: ") else { continue }
            let payload = String(block.dropFirst(6))
            if payload == "[DONE]" { continue }
            let object = try JSONSerialization.jsonObject(with: Data(payload.utf8))
            out.append(try XCTUnwrap(object as? [String: Any]))
        }
        return out
    }

    /// OpenAI's error object, checked for its shape.
    func openAIError(file: StaticString = #filePath, line: UInt = #line) throws -> (message: String, type: String, param: String?) {
        let error = try XCTUnwrap(try json["error"] as? [String: Any], "no error object: \(text)", file: file, line: line)
        let message = try XCTUnwrap(error["message"] as? String, file: file, line: line)
        let type = try XCTUnwrap(error["type"] as? String, file: file, line: line)
        XCTAssertTrue(error.keys.contains("param") && error.keys.contains("code"), "error lacks param/code: \(text)", file: file, line: line)
        return (message, type, error["param"] as? String)
    }
}

func chatBody(_ content: String = "hi", extra: String = "") -> String {
    #"{"model": "scripted", "messages": [{"role": "user", "content": "\#(content)"}]\#(extra.isEmpty ? "" : ", " + extra)}"#
}

/// A checkpoint under Tests/Fixtures.
func fixturePath(_ relative: String) -> String {
    URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(relative).path
}
