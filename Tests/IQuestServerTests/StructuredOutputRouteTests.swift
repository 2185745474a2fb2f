import Foundation
import IQuestConstraints
import IQuestEngine
import IQuestServer
import XCTest

/// response_format, structured_outputs, logit_bias, forced tool calls, Responses text.format and
/// Ollama format reach the engine request as a compiled constraint; bad schemas are 400s.
/// Whether the request's grammar accepts `text` completely.
private func grammarAccepts(_ request: GenerationRequest?, _ text: String) throws -> Bool {
    let constraint = try XCTUnwrap(request?.constraint, "no constraint on the request")
    return GrammarMatcher.accepts(try GrammarAutomaton(constraint.grammar), Array(text.utf8))
}

final class StructuredOutputRouteTests: XCTestCase {
    func testResponseFormatJSONSchemaAndJSONObject() async throws {
        let backend = ScriptedBackend(script: ["{}"])
        try await withServer(backend) { client in
            let schema = #"{"type":"object","properties":{"city":{"type":"string"},"n":{"type":"integer","minimum":1}},"required":["city","n"],"additionalProperties":false}"#
            var r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": true, "schema": \#(schema)}}"#))
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertTrue(try grammarAccepts(backend.requests.last, #"{"city": "Paris", "n": 3}"#))
            XCTAssertFalse(try grammarAccepts(backend.requests.last, #"{"city": "Paris", "n": 0}"#))
            XCTAssertFalse(try grammarAccepts(backend.requests.last, #"{"city": "Paris"}"#))
            XCTAssertNil(backend.requests.last?.constraint?.startAfter)
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""response_format": {"type": "json_object"}"#))
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertTrue(try grammarAccepts(backend.requests.last, #"{"any": [1, {"x": null}]}"#))
            XCTAssertFalse(try grammarAccepts(backend.requests.last, #"[1]"#))
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""response_format": {"type": "text"}"#))
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertNil(backend.requests.last?.constraint)
        }
    }

    func testUnsupportedKeywordIs400NamingKeywordAndPointer() async throws {
        let backend = ScriptedBackend(script: ["x"])
        try await withServer(backend) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "properties": {"a": {"not": {"type": "string"}}}}}}"#))
            XCTAssertEqual(r.status, .badRequest, r.text)
            let error = try r.openAIError()
            XCTAssertTrue(error.message.contains("'not'"), error.message)
            XCTAssertTrue(error.message.contains("#/properties/a/not"), error.message)
            XCTAssertEqual(error.param, "response_format.json_schema.schema")
            let bad = try await client.post("/v1/chat/completions", json: chatBody(extra: #""response_format": {"type": "xml"}"#))
            XCTAssertEqual(bad.status, .badRequest)
            XCTAssertEqual(try bad.openAIError().param, "response_format.type")
        }
        XCTAssertTrue(backend.requests.isEmpty, "nothing reached the engine")
    }

    func testStructuredOutputsRegexChoiceGrammarAndConflicts() async throws {
        let backend = ScriptedBackend(script: ["x"])
        try await withServer(backend) { client in
            var r = try await client.post("/v1/completions", json: #"{"prompt": "p", "structured_outputs": {"regex": "[0-9]{3}-[a-z]+"}}"#)
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertTrue(try grammarAccepts(backend.requests.last, "123-abc"))
            XCTAssertFalse(try grammarAccepts(backend.requests.last, "12-abc"))
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""structured_outputs": {"choice": ["yes", "no"]}"#))
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertTrue(try grammarAccepts(backend.requests.last, "no"))
            XCTAssertFalse(try grammarAccepts(backend.requests.last, "maybe"))
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""structured_outputs": {"grammar": "root ::= \"a\"+ \"b\""}"#))
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertTrue(try grammarAccepts(backend.requests.last, "aaab"))
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""structured_outputs": {"json": "{\"type\": \"boolean\"}"}"#))
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertTrue(try grammarAccepts(backend.requests.last, "true"))
            let before = backend.requests.count
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""structured_outputs": {"grammar": "root ::= root \"a\""}"#))
            XCTAssertEqual(r.status, .badRequest)
            XCTAssertEqual(try r.openAIError().param, "structured_outputs.grammar")
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""structured_outputs": {"regex": "a", "choice": ["a"]}"#))
            XCTAssertEqual(r.status, .badRequest)
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""structured_outputs": {"regex": "a"}, "response_format": {"type": "json_object"}"#))
            XCTAssertEqual(r.status, .badRequest)
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""structured_outputs": {"regex": "(?=a)"}"#))
            XCTAssertEqual(r.status, .badRequest)
            XCTAssertTrue(try r.openAIError().message.contains("lookaround"))
            XCTAssertEqual(backend.requests.count, before)
        }
    }

    func testLogitBiasReachesTheEngineAndIsChecked() async throws {
        let backend = ScriptedBackend(script: ["x"])
        try await withServer(backend) { client in
            var r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""logit_bias": {"65": -100, "66": 100}"#))
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertEqual(backend.requests.last?.logitBias, [65: -100, 66: 100])
            XCTAssertNil(backend.requests.last?.constraint)
            r = try await client.post("/v1/completions", json: #"{"prompt": "p", "logit_bias": {"7": 5}}"#)
            XCTAssertEqual(backend.requests.last?.logitBias, [7: 5])
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""logit_bias": {"65": -101}"#))
            XCTAssertEqual(r.status, .badRequest)
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""logit_bias": {"abc": 1}"#))
            XCTAssertEqual(r.status, .badRequest)
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""logit_bias": {"999": 1}"#))
            XCTAssertEqual(r.status, .badRequest)
            XCTAssertTrue(try r.openAIError().message.contains("outside the vocabulary"))
        }
    }

    func testForcedToolCallFollowsHermesSyntaxAndParameters() async throws {
        let backend = ScriptedBackend(script: ["x"])
        try await withServer(backend) { client in
            let tools = #""tools": [{"type": "function", "function": {"name": "get_weather", "strict": true, "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}}, "required": ["city"], "additionalProperties": false}}}, {"type": "function", "function": {"name": "noop"}}]"#
            var r = try await client.post("/v1/chat/completions", json: chatBody(extra: tools + #", "tool_choice": "required""#))
            XCTAssertEqual(r.status, .ok, r.text)
            let call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"unit\": \"c\"}}\n</tool_call>"
            XCTAssertTrue(try grammarAccepts(backend.requests.last, call))
            XCTAssertTrue(try grammarAccepts(backend.requests.last, "<tool_call>\n{\"name\": \"noop\", \"arguments\": {}}\n</tool_call>"))
            XCTAssertFalse(try grammarAccepts(backend.requests.last, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"unit\": \"c\"}}\n</tool_call>"))
            XCTAssertFalse(try grammarAccepts(backend.requests.last, "The weather is nice."))
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: tools + #", "tool_choice": {"type": "function", "function": {"name": "get_weather"}}"#))
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertTrue(try grammarAccepts(backend.requests.last, call))
            XCTAssertFalse(try grammarAccepts(backend.requests.last, "<tool_call>\n{\"name\": \"noop\", \"arguments\": {}}\n</tool_call>"))
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: tools + #", "tool_choice": "none""#))
            XCTAssertNil(backend.requests.last?.constraint)
        }
    }

    func testAutoToolChoiceConstrainsStrictToolCallsFromTheirOpener() async throws {
        let backend = ScriptedBackend(script: ["x"])
        try await withServer(backend) { client in
            let tools = #""tools": [{"type": "function", "function": {"name": "get_weather", "strict": true, "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}}}, {"type": "function", "function": {"name": "noop"}}]"#
            var r = try await client.post("/v1/chat/completions", json: chatBody(extra: tools + #", "tool_choice": "auto""#))
            XCTAssertEqual(r.status, .ok, r.text)
            let constraint = try XCTUnwrap(backend.requests.last?.constraint)
            XCTAssertEqual(constraint.opener, "<tool_call>")
            XCTAssertNil(constraint.startAfter)
            // One call of a strict tool per activation; the non-strict tool is not constrained.
            let call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"
            XCTAssertTrue(try grammarAccepts(backend.requests.last, call))
            XCTAssertFalse(try grammarAccepts(backend.requests.last, call + "\n" + call))
            XCTAssertFalse(try grammarAccepts(backend.requests.last, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>"))
            XCTAssertFalse(try grammarAccepts(backend.requests.last, "<tool_call>\n{\"name\": \"noop\", \"arguments\": {}}\n</tool_call>"))
            // Free text and a call: the gate leaves the text alone and holds the call to its schema.
            var gate = ConstraintGate(automaton: try GrammarAutomaton(constraint.grammar), opener: constraint.opener)
            gate.consume(Array("Sure. <tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": ".utf8))
            XCTAssertTrue(gate.active)
            let allowed = gate.automaton.allowedBytes(gate.state)
            XCTAssertTrue(allowed.contains(UInt8(ascii: "\"")), "a string value opens")
            XCTAssertFalse(allowed.contains(UInt8(ascii: "1")), "city is a string, not a number")
            gate.consume(Array("\"Oslo\"}}\n</tool_call>".utf8))
            XCTAssertFalse(gate.active)
            XCTAssertEqual(gate.completed, 1)
            // Without strict tools, auto stays unconstrained.
            let loose = #""tools": [{"type": "function", "function": {"name": "noop"}}]"#
            r = try await client.post("/v1/chat/completions", json: chatBody(extra: loose + #", "tool_choice": "auto""#))
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertNil(backend.requests.last?.constraint)
        }
    }

    func testReasoningPromptDefersTheConstraint() async throws {
        let backend = ScriptedBackend(script: ["x"], promptSuffix: "<think>\n")
        try await withServer(backend, configure: { $0.reasoningParser = .qwen3 }) { client in
            let r = try await client.post("/v1/chat/completions", json: chatBody(extra: #""response_format": {"type": "json_object"}"#))
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertEqual(backend.requests.last?.constraint?.startAfter, "</think>")
        }
    }

    func testResponsesTextFormatAndOllamaFormat() async throws {
        let backend = ScriptedBackend(script: ["{}"])
        try await withServer(backend) { client in
            var r = try await client.post("/v1/responses", json: #"{"input": "hi", "text": {"format": {"type": "json_schema", "name": "s", "schema": {"type": "array", "items": {"type": "integer"}, "maxItems": 2}}}}"#)
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertTrue(try grammarAccepts(backend.requests.last, "[1, 2]"))
            XCTAssertFalse(try grammarAccepts(backend.requests.last, "[1, 2, 3]"))
            r = try await client.post("/v1/responses", json: #"{"input": "hi", "text": {"format": {"type": "json_schema", "name": "s", "schema": {"type": "string", "format": "hostname-idn"}}}}"#)
            XCTAssertEqual(r.status, .badRequest)
            XCTAssertEqual(try r.openAIError().param, "text.format.schema")
            r = try await client.post("/api/chat", json: #"{"model": "m", "stream": false, "messages": [{"role": "user", "content": "hi"}], "format": "json"}"#)
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertTrue(try grammarAccepts(backend.requests.last, #"{"a": 1}"#))
            r = try await client.post("/api/generate", json: #"{"model": "m", "stream": false, "prompt": "hi", "raw": true, "format": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}}"#)
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertTrue(try grammarAccepts(backend.requests.last, #"{"ok": false}"#))
            XCTAssertFalse(try grammarAccepts(backend.requests.last, #"{}"#))
            r = try await client.post("/api/chat", json: #"{"model": "m", "messages": [{"role": "user", "content": "hi"}], "format": 3}"#)
            XCTAssertEqual(r.status, .badRequest)
        }
    }
}
