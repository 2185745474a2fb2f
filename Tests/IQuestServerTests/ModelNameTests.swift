import Foundation
import IQuestServer
import XCTest

/// One model per server: every name is served, aliases are listed, the default is the file name.
final class ModelNameTests: XCTestCase {
    func testAnyRequestedNameIsServed() async throws {
        let backend = ScriptedBackend(script: ["ok"])
        try await withServer(backend) { client in
            let chat = try await client.post("/v1/chat/completions",
                                             json: #"{"model": "gpt-5-codex", "messages": [{"role": "user", "content": "hi"}]}"#)
            XCTAssertEqual(chat.status, .ok)
            XCTAssertEqual(try chat.json["model"] as? String, "scripted")
            let completion = try await client.post("/v1/completions", json: #"{"model": "other", "prompt": "hi"}"#)
            XCTAssertEqual(completion.status, .ok)
        }
    }

    func testModelsListsTheAliases() async throws {
        let backend = ScriptedBackend(script: ["ok"])
        try await withServer(backend, configure: { $0.modelAliases = ["claude-sonnet-4-5", "scripted", "coder"] }) { client in
            let models = try await client.get("/v1/models")
            let data = try XCTUnwrap(try models.json["data"] as? [[String: Any]])
            XCTAssertEqual(data.map { $0["id"] as? String }, ["scripted", "claude-sonnet-4-5", "coder"])
        }
    }

    func testDefaultNameIsTheFileOrDirectoryName() {
        XCTAssertEqual(ServedModel.defaultName(path: "/models/IQuest-Coder-V1-7B.Q4_K_M.gguf"), "IQuest-Coder-V1-7B.Q4_K_M.gguf")
        XCTAssertEqual(ServedModel.defaultName(path: "/models/smollm2/"), "smollm2")
        XCTAssertEqual(ServedModel.defaultName(path: "relative/dir"), "dir")
    }
}
