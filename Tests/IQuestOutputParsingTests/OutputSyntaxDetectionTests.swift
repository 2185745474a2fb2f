import Foundation
import XCTest
import IQuestOutputParsing

// Parser choice from real chat templates (copied under Fixtures/, see its README) and the check
// for a prompt that already opened `<think>`.

final class OutputSyntaxDetectionTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func template(_ name: String) throws -> String {
        try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
    }

    func testTemplatesFromFixtures() throws {
        let expectations: [(file: String, tools: ToolCallSyntax?, think: Bool)] = [
            ("Qwen-Qwen3-0.6B.jinja", .hermes, true),
            ("Qwen3-Coder.jinja", .qwen3Coder, false),
            ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", nil, true),
            ("mistralai-Mistral-Nemo-Instruct-2407.jinja", nil, false),
        ]
        for expected in expectations {
            let text = try Self.template(expected.file)
            XCTAssertEqual(OutputSyntaxDetection.toolSyntax(chatTemplate: text), expected.tools, expected.file)
            XCTAssertEqual(OutputSyntaxDetection.usesThinkTags(chatTemplate: text), expected.think, expected.file)
        }
    }

    /// The Llama template is not redistributed here (licence); checked when the local cache has it.
    /// Llama 3.1's template (not copied here: its licence is not Apache/MIT) from the asset cache
    /// that tools/test.sh fills before the tests run.
    func testLlamaTemplateFromTheAssetCache() throws {
        let env = ProcessInfo.processInfo.environment["IQUEST_CACHE"] ?? ""
        let root = env.isEmpty ? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/iquest")
                               : URL(fileURLWithPath: env)
        let cached = root.appendingPathComponent("llama-vocab/templates/meta-llama-Llama-3.1-8B-Instruct.jinja")
        guard let text = try? String(contentsOf: cached, encoding: .utf8) else {
            XCTFail("missing \(cached.path); run tools/fetch-assets.sh vocab")
            return
        }
        XCTAssertNil(OutputSyntaxDetection.toolSyntax(chatTemplate: text))
        XCTAssertFalse(OutputSyntaxDetection.usesThinkTags(chatTemplate: text))
    }

    func testNoTemplate() {
        XCTAssertNil(OutputSyntaxDetection.toolSyntax(chatTemplate: nil))
        XCTAssertFalse(OutputSyntaxDetection.usesThinkTags(chatTemplate: nil))
        XCTAssertEqual(OutputSyntaxDetection.toolSyntax(chatTemplate: "{{ '<parameter=' }}"), .qwen3Coder)
        XCTAssertTrue(OutputSyntaxDetection.usesThinkTags(chatTemplate: "{{ content.split('</think>')[-1] }}"))
    }

    func testPromptOpensReasoning() {
        let cases: [(prompt: String, opens: Bool)] = [
            ("<|im_start|>assistant\n<think>\n", true),
            ("<｜Assistant｜><think>\n", true),
            ("<|im_start|>assistant\n<think>", true),
            ("<|im_start|>assistant\n", false),
            ("<|im_start|>assistant\n<think>\n\n</think>\n\n", false),
            ("<|im_start|>user\nWhat does <think> do?<|im_end|>\n<|im_start|>assistant\n", false),
            ("<think>\nprefilled thought", false),
            ("", false),
            ("think>\n", false),
        ]
        for row in cases {
            XCTAssertEqual(OutputSyntaxDetection.promptOpensReasoning(row.prompt), row.opens, row.prompt.debugDescription)
        }
    }

    /// The Qwen3 template's thinking prompt, fed to the parser as the server would.
    func testDetectionDrivesTheParser() throws {
        let text = try Self.template("Qwen-Qwen3-0.6B.jinja")
        let prompt = "<|im_start|>assistant\n<think>\n"
        let parsed = ChatOutputParser.parse(
            "Plan.\n</think>\n\n<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
            reasoning: OutputSyntaxDetection.usesThinkTags(chatTemplate: text),
            startsInReasoning: OutputSyntaxDetection.promptOpensReasoning(prompt),
            toolSyntax: OutputSyntaxDetection.toolSyntax(chatTemplate: text))
        XCTAssertEqual(parsed, [reasoning("Plan."), call("f", "{}")])
    }
}
