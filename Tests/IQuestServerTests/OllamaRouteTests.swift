import Foundation
import IQuestServer
import XCTest

/// Ollama's API over the scripted backend.
final class OllamaRouteTests: XCTestCase {
    static let template = "{% if tools %}{{ tools }}{% endif %}<think>{{ messages }}"

    static func makeBackend(_ script: [String] = ["<think>", "hmm", "</think>", "Hi", " there"]) -> ScriptedBackend {
        var model = ServedModel(id: "smol.gguf", contextLength: 2048, chatTemplate: Self.template,
                                fim: FIMTokens(prefix: "<P>", suffix: "<S>", middle: "<M>"))
        model.architecture = "llama"
        return ScriptedBackend(script: script, model: model)
    }

    func testDiscoveryRoutesHaveTheShapesClientsCheck() async throws {
        try await withServer(Self.makeBackend(), configure: { $0.modelAliases = ["coder"] }) { client in
            let versionResponse = try await client.get("/api/version")
            let version = try XCTUnwrap(try versionResponse.json["version"] as? String)
            XCTAssertNotNil(version.range(of: #"^\d+\.\d+\.\d+$"#, options: .regularExpression), version)
            let tags = try await client.get("/api/tags")
            let models = try XCTUnwrap(try tags.json["models"] as? [[String: Any]])
            XCTAssertEqual(models.map { $0["name"] as? String }, ["smol.gguf", "coder"])
            XCTAssertNotNil(models[0]["details"] as? [String: Any])
            let show = try await client.post("/api/show", json: #"{"model": "coder"}"#).json
            let info = try XCTUnwrap(show["model_info"] as? [String: Any])
            XCTAssertEqual(info["general.architecture"] as? String, "llama")
            XCTAssertEqual(info["llama.context_length"] as? Int, 2048)
            XCTAssertEqual(show["capabilities"] as? [String], ["completion", "tools", "thinking", "insert"])
            let psResponse = try await client.get("/api/ps")
            let ps = try XCTUnwrap(try psResponse.json["models"] as? [[String: Any]])
            XCTAssertEqual(ps.first?["context_length"] as? Int, 2048)
        }
    }

    func testChatStreamsNDJSONByDefaultAndAgreesWithTheWholeAnswer() async throws {
        let backend = Self.makeBackend()
        try await withServer(backend) { client in
            let body = #"{"model": "anything", "messages": [{"role": "user", "content": "hi"}], "options": {"temperature": 0, "num_predict": 32, "stop": ["@@"]}, "keep_alive": "5m"}"#
            let streamed = try await client.post("/api/chat", json: body)
            XCTAssertEqual(streamed.headers[.contentType], "application/x-ndjson")
            let lines = try streamed.jsonLines()
            XCTAssertEqual(lines.last?["done"] as? Bool, true)
            XCTAssertEqual(lines.last?["done_reason"] as? String, "stop")
            XCTAssertEqual(lines.last?["eval_count"] as? Int, 5)
            XCTAssertTrue(lines.dropLast().allSatisfy { $0["done"] as? Bool == false && $0["model"] as? String == "anything" })
            let content = lines.compactMap { ($0["message"] as? [String: Any])?["content"] as? String }.joined()
            let thinking = lines.compactMap { ($0["message"] as? [String: Any])?["thinking"] as? String }.joined()

            let whole = try await client.post("/api/chat", json: body.replacingOccurrences(of: #""keep_alive""#, with: #""stream": false, "keep_alive""#)).json
            let message = try XCTUnwrap(whole["message"] as? [String: Any])
            XCTAssertEqual(message["content"] as? String, "Hi there")
            XCTAssertEqual(message["thinking"] as? String, "hmm")
            XCTAssertEqual(content, "Hi there")
            XCTAssertEqual(thinking, "hmm")
            XCTAssertEqual(whole["done"] as? Bool, true)
        }
        let request = try XCTUnwrap(backend.requests.first)
        XCTAssertEqual(request.sampling.temperature, 0)
        XCTAssertEqual(request.maxTokens, 32)
        XCTAssertEqual(request.stopStrings, ["@@"])
    }

    func testToolCallsCarryObjectArgumentsBothWays() async throws {
        let script = ["<tool_call>", #"{"name": "read_file", "arguments": {"path": "a.swift"}}"#, "</tool_call>"]
        let backend = Self.makeBackend(script)
        try await withServer(backend) { client in
            let body = #"{"model": "m", "stream": false, "tools": [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}], "messages": [{"role": "user", "content": "read"}, {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "read_file", "arguments": {"path": "b.swift"}}}]}, {"role": "tool", "content": "code", "tool_name": "read_file"}]}"#
            let json = try await client.post("/api/chat", json: body).json
            let calls = try XCTUnwrap((json["message"] as? [String: Any])?["tool_calls"] as? [[String: Any]])
            let function = try XCTUnwrap(calls.first?["function"] as? [String: Any])
            XCTAssertEqual(function["name"] as? String, "read_file")
            XCTAssertEqual((function["arguments"] as? [String: Any])?["path"] as? String, "a.swift")
        }
        XCTAssertEqual(backend.renderedPrompts[0], "user: read\nassistant: \ntool: code\ntools: 1\n")
    }

    func testGenerateRawSuffixAndTemplated() async throws {
        let backend = Self.makeBackend(["x = 1"])
        try await withServer(backend) { client in
            let lines = try await client.post("/api/generate", json: #"{"model": "m", "prompt": "hello", "system": "S"}"#).jsonLines()
            XCTAssertEqual(lines.compactMap { $0["response"] as? String }.joined(), "x = 1")
            let raw = try await client.post("/api/generate", json: #"{"model": "m", "prompt": "def f(", "raw": true, "stream": false}"#).json
            XCTAssertEqual(raw["response"] as? String, "x = 1")
            let fim = try await client.post("/api/generate", json: #"{"model": "m", "prompt": "a", "suffix": "b", "stream": false}"#)
            XCTAssertEqual(fim.status, .ok)
            let load = try await client.post("/api/generate", json: #"{"model": "m"}"#).json
            XCTAssertEqual(load["done_reason"] as? String, "load")
        }
        XCTAssertEqual(backend.renderedPrompts, ["system: S\nuser: hello\n"])
        let prompts = backend.requests.map { String(decoding: $0.promptIds.map { UInt8($0) }, as: UTF8.self) }
        XCTAssertEqual(prompts, ["system: S\nuser: hello\n", "def f(", "<P>a<S>b<M>"])
    }

    func testErrorsAreOllamasShape() async throws {
        try await withServer(Self.makeBackend()) { client in
            let r = try await client.post("/api/chat", json: #"{"model": "m", "messages": [{"role": "user", "content": "x"}], "format": "yaml"}"#)
            XCTAssertEqual(r.status, .badRequest)
            XCTAssertTrue((try r.json["error"] as? String ?? "").contains("format"))
            let missing = try await client.post("/api/chat", json: #"{"model": "m"}"#)
            XCTAssertEqual(try missing.json["error"] as? String, "'messages' is required")
        }
    }
}
