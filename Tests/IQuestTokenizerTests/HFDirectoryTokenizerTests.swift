import Foundation
import IQuestTokenizer
import Testing

/// Checkpoint directories with `tokenizer.model` + `tokenizer_config.json`: the IQuest split rule
/// (spec §5), against sentencepiece + that rule computed in Python (tools/gen_spm_fixtures.py and
/// the tiny IQuest checkpoint's tokenizer-expected.json).
@Suite struct HFDirectoryTokenizerTests {
    /// Tests/Fixtures/<relative>, found from this source file (symlinks resolved).
    static func fixtureDirectory(_ relative: String, filePath: String = #filePath) -> String? {
        var dir = URL(fileURLWithPath: filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("Tests/Fixtures/\(relative)")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let decoded: String?
        let decoded_skip_special_tokens: String
    }

    struct Expected: Decodable {
        let vocab_size: Int
        let eos_token_ids: [Int]?
        let cases: [Case]
    }

    static func check(directory: String, addsBOS: Bool) throws -> (any Tokenizer, Expected) {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/" + (
            FileManager.default.fileExists(atPath: directory + "/tokenizer-expected.json") ? "tokenizer-expected.json" : "expected.json"))))
        let t = try AddedTokensTokenizer.load(directory: directory)
        check(t, expected: expected, addsBOS: addsBOS, label: directory)
        return (t, expected)
    }

    /// `t` against every case of a directory's expected ids and decodings.
    static func check(_ t: any Tokenizer, expected: Expected, addsBOS: Bool, label: String) {
        #expect(t.vocabularySize == expected.vocab_size)
        #expect(t.addBOS == addsBOS)
        #expect(expected.cases.count >= 40)
        var failures: [String] = []
        for c in expected.cases {
            // The Python rule splits every added token, special or not: parseSpecial true.
            let ids = t.encode(c.text, addSpecialTokens: addsBOS, parseSpecial: true)
            if ids != c.ids { failures.append("\(c.text.debugDescription): ids \(ids) != \(c.ids)") }
            let body = addsBOS ? Array(c.ids.dropFirst()) : c.ids
            if let d = c.decoded, t.decode(body, skipSpecialTokens: false) != d {
                failures.append("\(c.text.debugDescription): decoded \(t.decode(body, skipSpecialTokens: false).debugDescription) != \(d.debugDescription)")
            }
            if t.decode(body, skipSpecialTokens: true) != c.decoded_skip_special_tokens {
                failures.append("\(c.text.debugDescription): decoded (skip) \(t.decode(body, skipSpecialTokens: true).debugDescription) != \(c.decoded_skip_special_tokens.debugDescription)")
            }
        }
        #expect(failures.isEmpty, "\(label): \(failures.count) mismatches:\n\(failures.joined(separator: "\n"))")
    }

    @Test func iquestLikeDirectory() throws {
        let dir = try #require(Self.fixtureDirectory("tokenizer/hf-spm"))
        let (t, expected) = try Self.check(directory: dir, addsBOS: false)
        #expect(t.eosTokenIds == expected.eos_token_ids)
        #expect(t.bosTokenId == 1)
        let think = try #require(t.tokenId(for: "<think>"))
        let imEnd = try #require(t.tokenId(for: "<|im_end|>"))
        #expect(!t.isSpecial(think))
        #expect(t.isSpecial(imEnd))
        // Non-special added tokens are matched even without parsing specials; special ones are not.
        #expect(t.encode("a<think>b", addSpecialTokens: false, parseSpecial: false).contains(think))
        #expect(!t.encode("a<|im_end|>b", addSpecialTokens: false, parseSpecial: false).contains(imEnd))
    }

    @Test func legacyAddedTokensJSONWithBOS() throws {
        let dir = try #require(Self.fixtureDirectory("tokenizer/hf-spm-legacy"))
        let (t, _) = try Self.check(directory: dir, addsBOS: true)
        #expect(t.bosTokenId == 1)
        #expect(t.eosTokenIds == [2])
        // added_tokens.json: special only when named in special_tokens_map.json.
        #expect(t.isSpecial(try #require(t.tokenId(for: "<|im_start|>"))))
        #expect(!t.isSpecial(try #require(t.tokenId(for: "<think>"))))
    }

    static let tinyIQuest = fixtureDirectory("tiny-iquest/dense")

    @Test(.enabled(if: tinyIQuest != nil, "Tests/Fixtures/tiny-iquest/dense is not present"))
    func tinyIQuestCheckpoint() throws {
        let (t, expected) = try Self.check(directory: try #require(Self.tinyIQuest), addsBOS: false)
        #expect(t.eosTokenIds == expected.eos_token_ids)
        #expect(t.encode("a<think>b", addSpecialTokens: false).count == 3)
    }

    /// Streaming every case's ids gives the reference decode (sentencepiece runs + literal added
    /// tokens), with no U+FFFD from split characters: after an added token, the first piece's
    /// dummy-prefix space is dropped. The stream starts after an added token, as a ChatML prompt does.
    @Test func streamingMatchesReferenceDecode() throws {
        let dir = try #require(Self.fixtureDirectory("tokenizer/hf-spm"))
        let t = try AddedTokensTokenizer.load(directory: dir)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/expected.json")))
        let imStart = try #require(t.tokenId(for: "<|im_start|>"))
        var failures: [String] = []
        for c in expected.cases {
            for skip in [false, true] {
                var stream = StreamingDetokenizer(tokenizer: t, skipSpecialTokens: skip, previousToken: imStart)
                var text = ""
                for id in c.ids {
                    let piece = stream.append(id)
                    if piece.unicodeScalars.contains("\u{FFFD}") { failures.append("\(c.text.debugDescription): U+FFFD after \(id)") }
                    text += piece
                }
                text += stream.finish()
                let want = skip ? c.decoded_skip_special_tokens : c.decoded ?? ""
                if text != want { failures.append("\(c.text.debugDescription) (skip \(skip)): streamed \(text.debugDescription) != \(want.debugDescription)") }
            }
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches:\n\(failures.joined(separator: "\n"))")
    }

    @Test func directoryErrors() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("iquest-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        #expect(throws: TokenizerLoadError(file: tmp.path, "neither tokenizer.model nor tokenizer.json is in this directory.")) {
            try AddedTokensTokenizer.load(directory: tmp.path)
        }
        let src = try #require(Self.fixtureDirectory("tokenizer/hf-spm"))
        try FileManager.default.copyItem(atPath: src + "/tokenizer.model", toPath: tmp.path + "/tokenizer.model")
        let config = tmp.appendingPathComponent("tokenizer_config.json")
        try Data(#"{"added_tokens_decoder": {"5000": {"content": "<x>", "special": true, "lstrip": true}}}"#.utf8).write(to: config)
        let e1 = #expect(throws: TokenizerLoadError.self) { try AddedTokensTokenizer.load(directory: tmp.path) }
        #expect(e1?.message == "added token '<x>' (5000) sets lstrip, which is not supported.")
        try Data(#"{"eos_token": "<nope>"}"#.utf8).write(to: config)
        let e2 = #expect(throws: TokenizerLoadError.self) { try AddedTokensTokenizer.load(directory: tmp.path) }
        #expect(e2?.message == "eos_token '<nope>' is neither an added token nor a piece of tokenizer.model.")
        try Data("{".utf8).write(to: config)
        let e3 = #expect(throws: TokenizerLoadError.self) { try AddedTokensTokenizer.load(directory: tmp.path) }
        #expect(e3?.file == config.path)
        try Data(#"{"add_bos_token": false}"#.utf8).write(to: config)
        let t = try AddedTokensTokenizer.load(directory: tmp.path)
        #expect(!t.addBOS)
        #expect(t.eosTokenIds == [2])
    }
}
