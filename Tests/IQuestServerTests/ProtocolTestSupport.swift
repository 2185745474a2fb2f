import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import XCTest

/// Helpers for the Anthropic, Responses and Ollama route tests.
extension ServerClient {
    func post(_ uri: String, json: String, headers extra: HTTPFields) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers.append(contentsOf: extra)
        return try await client.executeRequest(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: json))
    }
}

extension TestResponse {
    /// The events of a named-event SSE body, in order: (event name, data object). Fails on a
    /// block that is not `event:` + `data:` or whose names disagree.
    func namedEvents(file: StaticString = #filePath, line: UInt = #line) throws -> [(name: String, data: [String: Any])] {
        var out: [(String, [String: Any])] = []
        for block in text.components(separatedBy: "\n\n") where !block.isEmpty {
            let lines = block.components(separatedBy: "\n")
            guard lines.count == 2, lines[0].hasPrefix("event: "), lines[1].hasPrefix("data: ") else {
                XCTFail("unexpected SSE block: \(block)", file: file, line: line)
                continue
            }
            let name = String(lines[0].dropFirst(7))
            let object = try JSONSerialization.jsonObject(with: Data(lines[1].dropFirst(6).utf8))
            let data = try XCTUnwrap(object as? [String: Any], file: file, line: line)
            XCTAssertEqual(data["type"] as? String, name, "event name and type differ", file: file, line: line)
            out.append((name, data))
        }
        return out
    }

    /// The lines of an NDJSON body as objects.
    func jsonLines() throws -> [[String: Any]] {
        try text.split(separator: "\n").map { line in
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }
}

/// Event names with runs of the same name collapsed (deltas come one per token).
func collapsedNames(_ events: [(name: String, data: [String: Any])]) -> [String] {
    var out: [String] = []
    for e in events where out.last != e.name { out.append(e.name) }
    return out
}

/// A template that renders tools and opens nothing: output parsing follows the model's tags.
let toolAndThinkTemplate = "{% if tools %}<tools>{{ tools }}</tools> answer with <tool_call>{\"name\": ..., \"arguments\": ...}</tool_call>{% endif %}<think></think>"
