import Foundation
import Testing

/// The tiny Loop checkpoint through the real binary, from its HF directory and from GGUFs that
/// `iquest quantize` writes (f32 for exact ids, q8_0 as a smoke run), against tiny-loop/expected.json
/// (the numpy Loop reference; the chat prompt rendered by transformers and tokenized by sentencepiece).
@Suite struct LoopCLITests {
    struct Expected: Decodable {
        struct Prompt: Decodable {
            let name: String
            let ids: [Int]
            let greedy_ids: [Int]
        }
        struct Message: Decodable { let role: String; let content: String }
        struct Chat: Decodable {
            let messages: [Message]
            let ids: [Int]
            let greedy_ids: [Int]
            let greedy_text: String
        }
        let prompts: [Prompt]
        let chat: Chat
    }

    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: CLIFixtures.path("tiny-loop/expected.json"))))
    }

    static func hf() throws -> String { try CLIFixtures.path("tiny-loop/hf") }

    /// `iquest quantize` of tiny-loop/hf into `tmp`; the tokenizer is carried, so no note is printed.
    static func quantized(_ type: String, into tmp: CLITempDirectory) throws -> String {
        let output = tmp.path("loop-\(type).gguf")
        let r = try runIQuest(["quantize", "-i", try hf(), "-o", output, "--type", type])
        #expect(r.status == 0 && r.exitedNormally, "\(r.summary)")
        #expect(!r.stderr.contains("note:"), "\(r.summary)")
        #expect(r.stderr.contains("iquestloopcoder"), "\(r.summary)")
        return output
    }

    /// "hf": the checkpoint directory; a weight type: the GGUF quantized from it into `tmp`.
    static func model(_ source: String, in tmp: CLITempDirectory) throws -> String {
        source == "hf" ? try hf() : try quantized(source, into: tmp)
    }

    /// expected.json's chat prompt and its user message.
    static func chat() throws -> (Expected.Chat, String) {
        let chat = try expected().chat
        guard let message = chat.messages.first(where: { $0.role == "user" })?.content else {
            throw CLITestFailure("tiny-loop/expected.json: the chat prompt has no user message")
        }
        return (chat, message)
    }

    static func ids(_ list: [Int]) -> String { list.map(String.init).joined(separator: ",") }

    /// generate --prompt-ids, greedy: every prompt's 24 reference ids (none is a stop id).
    @Test(arguments: ["hf", "f32"])
    func generateReproducesTheReferenceGreedyIds(source: String) throws {
        let tmp = try CLITempDirectory()
        let model = try Self.model(source, in: tmp)
        let expected = try Self.expected()
        #expect(expected.prompts.map(\.name) == ["short", "medium", "long"])
        for p in expected.prompts {
            let want = HFDirectoryCLITests.untilStop(p.greedy_ids)
            #expect(want.count == 24, "\(p.name): the reference continuation has no stop id")
            let (ids, done) = try HFDirectoryCLITests.generateJSON(["-m", model, "--prompt-ids", Self.ids(p.ids),
                                                                    "--temperature", "0", "-n", "24", "-t", "2"])
            #expect(ids == want, "\(source) \(p.name)")
            #expect(done["prompt_ids"] as? [Int] == p.ids)
            #expect(done["finish_reason"] as? String == "length")
        }
    }

    /// generate --chat with text: the prompt ids are the reference rendering + sentencepiece
    /// tokenization, and the greedy answer is the reference's. q8_0: the same prompt ids (the
    /// tokenizer is exact), a full-length answer.
    @Test(arguments: ["hf", "f32", "q8_0"])
    func generateChatPromptMatchesTheReference(source: String) throws {
        let tmp = try CLITempDirectory()
        let model = try Self.model(source, in: tmp)
        let (chat, message) = try Self.chat()
        #expect(chat.ids.count == 46)
        let (ids, done) = try HFDirectoryCLITests.generateJSON(["-m", model, "--chat", "-p", message,
                                                                "--temperature", "0", "-n", "24", "-t", "2"])
        #expect(done["prompt_ids"] as? [Int] == chat.ids, "\(source)")
        if source == "q8_0" {
            #expect(!ids.isEmpty && ids.count <= 24)
            #expect(done["generated_tokens"] as? Int == ids.count)
        } else {
            #expect(ids == HFDirectoryCLITests.untilStop(chat.greedy_ids), "\(source)")
        }
    }

    /// chat: a piped message is answered (greedy: the reference answer's text) and /exit ends cleanly.
    @Test(arguments: ["hf", "f32", "q8_0"])
    func chatAnswersAPipedMessage(source: String) throws {
        let tmp = try CLITempDirectory()
        let model = try Self.model(source, in: tmp)
        let (chat, message) = try Self.chat()
        let r = try runIQuestWithInput(["chat", "-m", model, "-n", "24", "--temperature", "0", "-t", "2"],
                                       stdin: message + "\n/exit\n")
        #expect(r.status == 0 && r.exitedNormally, "\(r.summary)")
        #expect(!r.stderr.contains("error:"), "\(r.summary)")
        let stats = r.stderrLines.filter { $0.hasPrefix("prompt ") }
        #expect(stats.count == 1, "\(r.summary)")
        #expect(stats.first?.hasPrefix("prompt \(chat.ids.count) tokens,") == true, "\(r.summary)")
        if source != "q8_0" {
            #expect(stats.first?.contains("generated 24 tokens") == true, "\(r.summary)")
            #expect(r.stdout.contains(chat.greedy_text), "\(source): \(r.stdout.debugDescription)\nwant \(chat.greedy_text.debugDescription)")
        }
    }

    @Test(arguments: ["hf", "f32", "q8_0"])
    func benchPrintsPrefillAndDecodeRows(source: String) throws {
        let tmp = try CLITempDirectory()
        let model = try Self.model(source, in: tmp)
        let r = try runIQuest(["bench", "-m", model, "-p", "16", "-n", "4", "-r", "1", "-t", "2"])
        #expect(r.status == 0, "\(r.summary)")
        let name = URL(fileURLWithPath: model).lastPathComponent
        let rows = r.stdoutLines.filter { $0.hasPrefix("| \(name) |") }
        #expect(rows.count == 2, "\(r.stdout)")
        #expect(rows.contains { $0.contains("| pp16 |") } && rows.contains { $0.contains("| tg4 |") }, "\(r.stdout)")
    }
}
