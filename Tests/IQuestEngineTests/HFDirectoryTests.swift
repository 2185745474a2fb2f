import Foundation
import IQuestEngine
import IQuestTemplates
import IQuestTokenizer
import Testing

/// A Hugging Face checkpoint directory opened as a whole (`LoadedModel.load(path:)`): tokenizer
/// against sentencepiece, chat template against transformers/jinja2, stop ids from config.json and
/// generation_config.json, and generation against transformers' greedy continuation.
@Suite struct HFDirectoryTests {
    static func dense() throws -> String { try EngineFixtures.path("tiny-iquest/dense") }

    /// tiny-iquest/dense/tokenizer-expected.json.
    struct TokenizerExpected: Decodable {
        struct Case: Decodable {
            let text: String
            let ids: [Int]
            let decoded: String
            let decoded_skip_special_tokens: String
        }
        let eos_token_ids: [Int]
        let cases: [Case]
    }

    /// tiny-iquest/dense/expected.json, the parts used here.
    struct Expected: Decodable {
        struct Config: Decodable { let eos_token_ids: [Int] }
        struct Message: Decodable { let role: String; let content: String }
        struct Prompt: Decodable {
            let name: String
            let text: String
            let messages: [Message]?
            let ids: [Int]
            let greedy_ids: [Int]
        }
        let config: Config
        let n_greedy: Int
        let prompts: [Prompt]
    }

    static func decode<T: Decodable>(_ type: T.Type, _ file: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: dense()).appendingPathComponent(file)))
    }

    @Test func tokenizerEncodesAndDecodesEveryReferenceCase() throws {
        let loaded = try LoadedModel.load(path: Self.dense(), threads: 1)
        let expected = try Self.decode(TokenizerExpected.self, "tokenizer-expected.json")
        #expect(expected.cases.count >= 30)
        for c in expected.cases {
            let ids = loaded.tokenizer.encode(c.text, addSpecialTokens: false, parseSpecial: true)
            #expect(ids == c.ids, "encode \(c.text.debugDescription)")
            #expect(loaded.tokenizer.decode(c.ids, skipSpecialTokens: false) == c.decoded, "decode \(c.ids)")
            #expect(loaded.tokenizer.decode(c.ids, skipSpecialTokens: true) == c.decoded_skip_special_tokens,
                    "decode skipping specials \(c.ids)")
        }
    }

    /// Every template-expected.json case: the rendered text byte for byte, and its ids.
    @Test func chatTemplateRendersEveryReferenceCase() throws {
        try Self.checkTemplateCases(LoadedModel.load(path: Self.dense(), threads: 1), label: "dense")
    }

    /// `loaded`'s chat template and tokenizer on every case of dense/template-expected.json.
    static func checkTemplateCases(_ loaded: LoadedModel, label: String) throws {
        #expect(loaded.chatFormat.template != nil)
        let cases = try templateCases(Self.dense())
        #expect(cases.count >= 10)
        for c in cases {
            let text = try loaded.chatFormat.render(messages: c.messages, tools: c.tools,
                                                    addGenerationPrompt: c.addGenerationPrompt, options: c.kwargs)
            #expect(Array(text.utf8) == Array(c.text.utf8), "\(label) case \(c.name):\n\(text)\n--- expected ---\n\(c.text)")
            #expect(loaded.tokenizer.encode(c.text, addSpecialTokens: false, parseSpecial: true) == c.ids, "\(label) case \(c.name)")
        }
    }

    /// Plain role/content conversations through `prompt(for:)` (what chat and generate --chat use).
    @Test func promptForPlainMessagesMatchesTheReference() throws {
        let loaded = try LoadedModel.load(path: Self.dense(), threads: 1)
        var checked = 0
        for c in try templateCases(Self.dense()) where c.tools == nil && c.kwargs.isEmpty {
            guard let plain = c.plainMessages else { continue }
            let text = try loaded.chatFormat.prompt(for: plain, addGenerationPrompt: c.addGenerationPrompt)
            #expect(text == c.text, "case \(c.name)")
            checked += 1
        }
        #expect(checked >= 4)
        // expected.json's "chat" prompt was built the same way; its ids are what the model saw.
        let expected = try Self.decode(Expected.self, "expected.json")
        let chat = try #require(expected.prompts.first { $0.name == "chat" })
        let messages = try #require(chat.messages).map { ChatMessage(role: $0.role, content: $0.content) }
        let text = try loaded.chatFormat.prompt(for: messages)
        #expect(text == chat.text)
        #expect(loaded.tokenizer.encode(text, addSpecialTokens: true, parseSpecial: true) == chat.ids)
    }

    @Test func stopIdsIncludeEveryConfiguredEOS() throws {
        let loaded = try LoadedModel.load(path: Self.dense(), threads: 1)
        let expected = try Self.decode(Expected.self, "expected.json")
        #expect(expected.config.eos_token_ids == [2, 979, 984])
        for id in expected.config.eos_token_ids {
            #expect(loaded.stopTokenIds.contains(id), "stop ids \(loaded.stopTokenIds.sorted()) lack \(id)")
        }
        #expect(!loaded.stopTokenIds.contains(987), "<think> is not a stop token")
        // dense-rope-parameters: eos_token_id is a single int (979) in both config files.
        let single = try LoadedModel.load(path: EngineFixtures.path("tiny-iquest/dense-rope-parameters"), threads: 1)
        #expect(single.stopTokenIds.contains(979))
    }

    /// Greedy generation reproduces transformers' continuation up to and including the first stop
    /// id ("code" has none in 16 tokens, "chat" hits 2 after 8, "long" hits 979 after 2).
    @Test(arguments: ["code", "chat", "long"])
    func greedyGenerationMatchesTransformers(prompt name: String) throws {
        let loaded = try LoadedModel.load(path: Self.dense(), threads: 2)
        let expected = try Self.decode(Expected.self, "expected.json")
        let p = try #require(expected.prompts.first { $0.name == name })
        let stops = Set(expected.config.eos_token_ids)
        var want: [Int] = []
        for id in p.greedy_ids {
            want.append(id)
            if stops.contains(id) { break }
        }
        let generator = Generator(loaded: loaded)
        let run = try generate(generator, GenerationRequest(promptIds: p.ids, sampling: .greedy, maxTokens: expected.n_greedy))
        #expect(run.ids == want, "\(name)")
        #expect(run.stats.promptTokens == p.ids.count)
        #expect(run.stats.generatedTokens == want.count)
        #expect(run.stats.finishReason == (want.count < p.greedy_ids.count ? .stop : .length))
        if name == "code" { #expect(run.ids.count == expected.n_greedy) }
        if name == "chat" { #expect(run.ids.last == 2) }
    }
}

/// One template-expected.json case, built with `TemplateValue(json:)` so key order is kept.
struct TemplateCase {
    let name: String
    let messages: [TemplateValue]
    let tools: [TemplateValue]?
    let addGenerationPrompt: Bool
    let kwargs: [String: TemplateValue]
    let text: String
    let ids: [Int]

    /// The messages as role/content pairs, when that is all they hold.
    var plainMessages: [ChatMessage]? {
        var out: [ChatMessage] = []
        for m in messages {
            guard case .dictionary(let d) = m, d.keys == ["role", "content"],
                  case .string(let role)? = d["role"], case .string(let content)? = d["content"] else { return nil }
            out.append(ChatMessage(role: role, content: content))
        }
        return out
    }
}

func templateCases(_ directory: String) throws -> [TemplateCase] {
    let data = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent("template-expected.json"))
    guard case .dictionary(let root) = try TemplateValue(json: data), case .array(let cases)? = root["cases"] else {
        throw EngineTestFailure("template-expected.json: no cases array")
    }
    return try cases.map { value in
        guard case .dictionary(let c) = value,
              case .string(let name)? = c["name"],
              case .array(let messages)? = c["messages"],
              case .bool(let addGenerationPrompt)? = c["add_generation_prompt"],
              case .string(let text)? = c["text"],
              case .array(let idValues)? = c["ids"] else {
            throw EngineTestFailure("template-expected.json: malformed case \(value)")
        }
        var tools: [TemplateValue]?
        switch c["tools"] {
        case .array(let t)?: tools = t
        case .some(.none), nil: tools = nil
        default: throw EngineTestFailure("template-expected.json: \(name): tools is neither null nor an array")
        }
        var kwargs: [String: TemplateValue] = [:]
        if case .dictionary(let k)? = c["template_kwargs"] { for (key, v) in k.pairs { kwargs[key] = v } }
        let ids: [Int] = try idValues.map {
            guard case .int(let i) = $0 else { throw EngineTestFailure("template-expected.json: \(name): non-integer id") }
            return i
        }
        return TemplateCase(name: name, messages: messages, tools: tools, addGenerationPrompt: addGenerationPrompt,
                            kwargs: kwargs, text: text, ids: ids)
    }
}
