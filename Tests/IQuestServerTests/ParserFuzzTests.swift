import Foundation
import HTTPTypes
import Hummingbird
import IQuestServer
import XCTest

/// A bounded, seeded fuzz of the request parsers through the in-process router: whatever the
/// body, the answer is never a 5xx or a crash; a broken body gets a 4xx with OpenAI's error
/// object.
final class ParserFuzzTests: XCTestCase {
    /// SplitMix64: the same cases on every run.
    private struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private static let paths = ["/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize"]
    private static let seeds: [String] = [
        #"{"model": "scripted", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "temperature": 0.5, "top_p": 0.9, "stop": ["x"], "n": 1, "stream": false, "logprobs": true, "top_logprobs": 2, "seed": 7}"#,
        #"{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": [{"type": "text", "text": "t"}]}], "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}}], "tool_choice": "auto"}"#,
        #"{"prompt": ["a", "b"], "max_tokens": 2, "echo": true, "suffix": null, "stream": true, "stream_options": {"include_usage": true}}"#,
        #"{"prompt": [1, 2, 3], "logprobs": 2, "presence_penalty": 0.5, "frequency_penalty": -0.5, "ignore_eos": false}"#,
        #"{"tokens": [1, 2, 3]}"#,
    ]
    /// Values that are the wrong type, out of range or hostile wherever they land.
    private static let hostileValues: [String] = [
        "null", "true", "-1", "0", "1e400", "-1e400", "99999999999999999999999999", "-9223372036854775809", "1.5", "NaN",
        #""""#, #""x""#, "[]", "{}", "[[[[[[[[[[]]]]]]]]]]", #"{"a": {"b": {"c": [1, {"d": null}]}}}"#,
        #""\ud800""#, #""\u0000""#, String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
    ]

    private static func check(_ client: ServerClient, path: String, body: [UInt8], strict: Bool,
                       file: StaticString = #filePath, line: UInt = #line) async throws {
        let r = try await client.post(path, body: ByteBuffer(bytes: body))
        let shown = String(decoding: body.prefix(160), as: UTF8.self)
        XCTAssertLessThan(r.status.code, 500, "\(path) \(shown) → \(r.status.code) \(r.text.prefix(200))", file: file, line: line)
        if strict {
            XCTAssertTrue((400..<500).contains(r.status.code), "\(path) \(shown) → \(r.status.code)", file: file, line: line)
        }
        if r.status.code >= 400 {
            let object = try? JSONSerialization.jsonObject(with: Data(r.text.utf8)) as? [String: Any]
            let error = object?["error"] as? [String: Any]
            XCTAssertNotNil(error?["message"] as? String, "\(path) \(shown): no OpenAI error object: \(r.text.prefix(200))", file: file, line: line)
            XCTAssertNotNil(error?["type"] as? String, file: file, line: line)
        }
    }

    /// Every field of every seed body replaced by each hostile value: strictly 4xx where the
    /// value cannot be right (checked per case below), never 5xx anywhere.
    func testWrongTypesHugeNumbersAndDeepNesting() async throws {
        let backend = ScriptedBackend(script: ["a", "b"])
        try await withServer(backend) { client in
            var cases = 0
            for seed in Self.seeds {
                let keys = try Self.topLevelKeys(seed)
                for key in keys {
                    for value in Self.hostileValues {
                        let body = try Self.replacing(key, with: value, in: seed)
                        for path in Self.paths {
                            try await Self.check(client, path: path, body: Array(body.utf8), strict: false)
                            cases += 1
                        }
                    }
                }
            }
            XCTAssertGreaterThan(cases, 1000)
            // Cases that must be refused whatever the route.
            for path in Self.paths {
                for body in ["", "{", "[]", "null", "1", #""text""#, String(repeating: "[", count: 100_000),
                             String(repeating: #"{"a":"#, count: 20_000) + "1" + String(repeating: "}", count: 20_000)] {
                    try await Self.check(client, path: path, body: Array(body.utf8), strict: true)
                }
                try await Self.check(client, path: path, body: [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D], strict: true)
                try await Self.check(client, path: path, body: Array(#"{"messages": [{"role": "user", "content": ""#.utf8) + [0xC3, 0x28] + Array(#""}]}"#.utf8), strict: true)
            }
            for body in [#"{"messages": [{"role": "user", "content": "x"}], "max_tokens": 1e400}"#,
                         #"{"messages": [{"role": "user", "content": "x"}], "max_tokens": 99999999999999999999999}"#,
                         #"{"messages": [{"role": "user", "content": "x"}], "max_tokens": "5"}"#,
                         #"{"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}"#,
                         #"{"messages": [{"role": "user", "content": "x"}], "n": -3}"#,
                         #"{"messages": "hello"}"#, #"{"messages": [1, 2]}"#] {
                try await Self.check(client, path: "/v1/chat/completions", body: Array(body.utf8), strict: true)
            }
        }
    }

    /// Random byte mutations (flip, insert, delete, truncate, splice) of the seed bodies.
    func testRandomMutationsNeverCauseA5xx() async throws {
        let backend = ScriptedBackend(script: ["a", "b"])
        try await withServer(backend) { client in
            var rng = Seeded(state: 0x1D_E5_7A_11)
            let alphabet = Array(#"{}[]":,0123456789-+.eE truefalsnul\u"#.utf8) + [0x00, 0x80, 0xC0, 0xFF, 0xED, 0xA0]
            for round in 0..<600 {
                var bytes = Array(Self.seeds[round % Self.seeds.count].utf8)
                for _ in 0..<Int.random(in: 1...6, using: &rng) {
                    let at = Int.random(in: 0..<max(1, bytes.count), using: &rng)
                    switch Int.random(in: 0..<5, using: &rng) {
                    case 0 where !bytes.isEmpty: bytes[at] = alphabet.randomElement(using: &rng) ?? 0
                    case 1: bytes.insert(alphabet.randomElement(using: &rng) ?? 0, at: min(at, bytes.count))
                    case 2 where !bytes.isEmpty: bytes.remove(at: at)
                    case 3: bytes = Array(bytes.prefix(at))
                    default:
                        let other = Array(Self.seeds.randomElement(using: &rng)?.utf8 ?? "".utf8)
                        let from = Int.random(in: 0..<other.count, using: &rng)
                        bytes.insert(contentsOf: other[from...].prefix(40), at: min(at, bytes.count))
                    }
                }
                try await Self.check(client, path: Self.paths[round % Self.paths.count], body: bytes, strict: false)
            }
        }
    }

    private static func topLevelKeys(_ json: String) throws -> [String] {
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        return object.keys.sorted()
    }

    /// The seed with `key`'s value replaced by the raw JSON text `value`.
    private static func replacing(_ key: String, with value: String, in json: String) throws -> String {
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        var parts: [String] = []
        for k in object.keys.sorted() {
            let original = try XCTUnwrap(String(data: try JSONSerialization.data(withJSONObject: [object[k] as Any], options: [.fragmentsAllowed]), encoding: .utf8))
            parts.append("\"\(k)\": " + (k == key ? value : String(original.dropFirst().dropLast())))
        }
        return "{" + parts.joined(separator: ", ") + "}"
    }
}
