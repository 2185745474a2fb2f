import Foundation
import IQuestTokenizer
import Testing

/// tokenizer.json files built with HF `tokenizers` (tools/gen_spm_fixtures.py), against that
/// library's encode/decode of the same files.
@Suite struct HFTokenizerJSONTests {
    struct Expected: Decodable {
        struct PerFile: Decodable {
            let vocab_size: Int
            let ids: [[Int]]
            let ids_add_special_tokens: [[Int]]
            let ids_encode_special_tokens: [[Int]]
            let decoded: [String]
            let decoded_skip_special_tokens: [String]
        }
        let strings: [String]
        let tokenizers: [String: PerFile]
    }

    static let names = ["spm-metaspace", "spm-legacy", "bytelevel-gpt2", "bytelevel-qwen2"]

    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: TestAssets.fixture("hf-json/expected.json")))
    }

    @Test(arguments: names)
    func matchesTokenizersLibrary(name: String) throws {
        let all = try Self.expected()
        let e = try #require(all.tokenizers[name])
        let t = try HFTokenizerJSON(path: TestAssets.fixture("hf-json/\(name)/tokenizer.json").path)
        #expect(t.vocabularySize == e.vocab_size)
        #expect(all.strings.count >= 50)
        var failures: [String] = []
        for (i, s) in all.strings.enumerated() {
            let checks: [(String, [Int], [Int])] = [
                ("ids", t.encode(s, addSpecialTokens: false, parseSpecial: true), e.ids[i]),
                ("ids+special", t.encode(s, addSpecialTokens: true, parseSpecial: true), e.ids_add_special_tokens[i]),
                ("ids, specials not parsed", t.encode(s, addSpecialTokens: false, parseSpecial: false), e.ids_encode_special_tokens[i]),
            ]
            for (what, got, want) in checks where got != want {
                failures.append("\(s.debugDescription) \(what): \(got) != \(want)")
            }
            let d = t.decode(e.ids[i], skipSpecialTokens: false)
            if d != e.decoded[i] { failures.append("\(s.debugDescription) decoded: \(d.debugDescription) != \(e.decoded[i].debugDescription)") }
            let ds = t.decode(e.ids[i], skipSpecialTokens: true)
            if ds != e.decoded_skip_special_tokens[i] {
                failures.append("\(s.debugDescription) decoded (skip): \(ds.debugDescription) != \(e.decoded_skip_special_tokens[i].debugDescription)")
            }
        }
        #expect(failures.isEmpty, "\(name): \(failures.count) mismatches:\n\(failures.joined(separator: "\n"))")
    }

    @Test func addedTokensAndSpecialIds() throws {
        let t = try HFTokenizerJSON(path: TestAssets.fixture("hf-json/spm-metaspace/tokenizer.json").path)
        // TemplateProcessing "<s> $A" → BOS 1 first.
        #expect(t.bosTokenId == 1)
        #expect(t.addBOS)
        let think = try #require(t.tokenId(for: "<think>"))
        let imEnd = try #require(t.tokenId(for: "<|im_end|>"))
        #expect(!t.isSpecial(think) && t.isSpecial(imEnd))
        #expect(t.eosTokenIds.contains(2) && t.eosTokenIds.contains(imEnd))
        let c = try t.configured(eosTokenId: imEnd, addBOS: false, addEOS: true)
        #expect(c.encode("hi", addSpecialTokens: true) == t.encode("hi", addSpecialTokens: false) + [imEnd])
        #expect(c.eosTokenIds.first == imEnd)
    }

    @Test func directoryWithTokenizerJSON() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("iquest-tokjson-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        try FileManager.default.copyItem(atPath: TestAssets.fixture("hf-json/bytelevel-qwen2/tokenizer.json").path,
                                         toPath: tmp.path + "/tokenizer.json")
        try Data(#"{"eos_token": {"content": "<|im_end|>"}, "add_bos_token": false}"#.utf8)
            .write(to: tmp.appendingPathComponent("tokenizer_config.json"))
        try Data(#"{"eos_token_id": [601, 0]}"#.utf8).write(to: tmp.appendingPathComponent("generation_config.json"))
        let t = try AddedTokensTokenizer.load(directory: tmp.path)
        #expect(t.eosTokenIds == [601, 0])
        let e = try Self.expected()
        let i = try #require(e.strings.firstIndex(of: "x</tool_call>y"))
        #expect(t.encode(e.strings[i], addSpecialTokens: true) == e.tokenizers["bytelevel-qwen2"]?.ids[i])
    }

    @Test func unsupportedParts() throws {
        let data = try Data(contentsOf: TestAssets.fixture("hf-json/bytelevel-gpt2/tokenizer.json"))
        let base = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        func load(_ change: (inout [String: Any]) -> Void) throws -> TokenizerLoadError? {
            var json = base
            change(&json)
            let d = try JSONSerialization.data(withJSONObject: json)
            return #expect(throws: TokenizerLoadError.self) { try HFTokenizerJSON(data: d) }
        }
        #expect(try load { $0["model"] = ($0["model"] as? [String: Any] ?? [:]).merging(["type": "Unigram"]) { $1 } }?.message
            == "model type 'Unigram' is not supported; only BPE is.")
        #expect(try load { $0["pre_tokenizer"] = ["type": "ByteLevel", "add_prefix_space": true, "use_regex": true] }?.message
            == "ByteLevel add_prefix_space is not supported.")
        #expect(try load { $0["normalizer"] = ["type": "NFKD"] }?.message
            == "normalizer 'NFKD' is not supported (supported: Sequence, Prepend, Replace).")
        let split: [String: Any] = ["type": "Split", "pattern": ["Regex": "\\s+"], "behavior": "Isolated", "invert": false]
        #expect(try load { $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [split, ["type": "ByteLevel", "use_regex": false]]] }?
            .message.hasPrefix("Split regex") == true)
        #expect(try load { $0["post_processor"] = ["type": "RobertaProcessing"] }?.message
            == "post_processor 'RobertaProcessing' is not supported (supported: TemplateProcessing, ByteLevel, Sequence).")
        #expect(throws: TokenizerLoadError(file: "tokenizer.json", "the top level is not a JSON object.")) {
            try HFTokenizerJSON(data: Data("[1]".utf8))
        }
    }
}
