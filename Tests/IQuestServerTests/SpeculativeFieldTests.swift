import Foundation
import IQuestEngine
import IQuestServer
import XCTest

/// The `speculative` extension field: parsed into the request, refused precisely when wrong.
final class SpeculativeFieldTests: XCTestCase {
    func testBadSpeculativeFieldsAre400WithTheParamNamed() async throws {
        let cases: [(extra: String, param: String)] = [
            (#""speculative": "turbo""#, "speculative"),
            (#""speculative": 3"#, "speculative"),
            (#""speculative": {"mode": "eagle"}"#, "speculative.mode"),
            (#""speculative": {"draft_max": 0}"#, "speculative.draft_max"),
            (#""speculative": {"draft_max": 99}"#, "speculative.draft_max"),
            (#""speculative": {"draft_max": 2, "draft_min": 3}"#, "speculative"),
            (#""speculative": {"adaptive": "yes"}"#, "speculative.adaptive"),
        ]
        try await withServer(ScriptedBackend(script: ["ok"])) { client in
            for c in cases {
                for path in ["/v1/chat/completions", "/v1/completions"] {
                    let body = path == "/v1/completions" ? #"{"prompt": "hi", \#(c.extra)}"# : chatBody(extra: c.extra)
                    let r = try await client.post(path, json: body)
                    XCTAssertEqual(r.status, .badRequest, "\(path) \(c.extra) → \(r.text)")
                    let error = try r.openAIError()
                    XCTAssertEqual(error.param, c.param, "\(c.extra) → \(error.message)")
                }
            }
            try await ErrorAndAuthRouteTests.assertServes(client)
        }
    }

    func testSpeculativeFieldReachesTheEngine() async throws {
        let backend = ScriptedBackend(script: ["ok"])
        try await withServer(backend) { client in
            for (extra, expected) in [("", nil),
                                      (#""speculative": "ngram""#, SpeculativeOptions(mode: .ngram)),
                                      (#""speculative": "off""#, SpeculativeOptions(mode: .off)),
                                      (#""speculative": "draft""#, SpeculativeOptions(mode: .draft)),
                                      (#""speculative": {"draft_max": 4, "ngram_min": 1, "adaptive": false}"#,
                                       SpeculativeOptions(mode: .ngram, draftMax: 4, ngramMin: 1, adaptive: false))] as [(String, SpeculativeOptions?)] {
                let r = try await client.post("/v1/chat/completions", json: chatBody(extra: extra))
                XCTAssertEqual(r.status, .ok, r.text)
                XCTAssertEqual(backend.requests.last?.speculative, expected, extra)
                let c = try await client.post("/v1/completions", json: #"{"prompt": "hi"\#(extra.isEmpty ? "" : ", " + extra)}"#)
                XCTAssertEqual(c.status, .ok, c.text)
                XCTAssertEqual(backend.requests.last?.speculative, expected, extra)
            }
        }
    }
}
