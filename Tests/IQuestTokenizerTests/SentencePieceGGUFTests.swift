import Foundation
import IQuestFormats
import IQuestTokenizer
import Testing

/// `tokenizer.ggml.model = "llama"`: llama.cpp's SPM vocab GGUFs against their test vectors, and
/// HF directories written to GGUF metadata and read back against sentencepiece's ids.
@Suite struct SentencePieceGGUFTests {
    /// A GGUF holding only `metadata` (no tensors), opened.
    static func gguf(_ metadata: [(String, GGUFValue)]) throws -> GGUFFile {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("iquest-spm-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try GGUFWriter()
        try writer.addMetadata("general.architecture", .string("llama"))
        for (key, value) in metadata { try writer.addMetadata(key, value) }
        try writer.write(to: path)
        return try GGUFFile(path: path)
    }

    static func hfSpm() throws -> (AddedTokensTokenizer, HFDirectoryTokenizerTests.Expected) {
        let dir = try #require(HFDirectoryTokenizerTests.fixtureDirectory("tokenizer/hf-spm"))
        let t = try #require(try AddedTokensTokenizer.load(directory: dir) as? AddedTokensTokenizer)
        let expected = try JSONDecoder().decode(HFDirectoryTokenizerTests.Expected.self,
                                                from: Data(contentsOf: URL(fileURLWithPath: dir + "/expected.json")))
        return (t, expected)
    }

    /// llama.cpp's test-tokenizer-0 vectors (add_special and parse_special off), read straight
    /// from the vocab GGUF: no rebuilt proto, no hand-picked added tokens.
    @Test(arguments: ["llama-spm", "phi-3"])
    func llamaCppVectors(vocab: String) throws {
        let file = try GGUFFile(path: TestAssets.cached("llama-vocab/ggml-vocab-\(vocab).gguf").path)
        let tokenizer = try GGUFTokenizer.load(file)
        #expect(tokenizer.vocabularySize == (try file.stringArray(GGUFTokenizerKey.tokens))?.count)
        #expect(tokenizer.bosTokenId == 1)
        #expect(tokenizer.eosTokenIds.first == (try file.int(GGUFTokenizerKey.eosTokenId)))
        let failures = try TestAssets.vectorFailures(tokenizer, vocab: vocab)
        #expect(failures.isEmpty, "\(vocab): \(failures.count) differ:\n\(failures.joined(separator: "\n"))")
        // Control tokens split out only when parsing specials; "Hello world" is [15043, 3186].
        #expect(tokenizer.encode("<s>Hello world", addSpecialTokens: false, parseSpecial: true) == [1, 15043, 3186])
        #expect(tokenizer.decode([1, 15043, 3186], skipSpecialTokens: true) == "Hello world")
    }

    /// The IQuest-like directory (sentencepiece BPE + 17 added tokens incl. non-special <think>)
    /// through GGUF metadata and back: every reference case, stop ids, BOS/EOS flags.
    @Test func hfDirectoryRoundTrip() throws {
        let (t, expected) = try Self.hfSpm()
        let imEnd = try #require(t.tokenId(for: "<|im_end|>"))
        let metadata = try t.sentencePieceGGUFMetadata(vocabularySize: t.vocabularySize, paddingTokenId: t.tokenId(for: "<PAD>"),
                                                       endOfTurnTokenId: imEnd, stopTokenIds: t.eosTokenIds)
        let file = try Self.gguf(metadata)
        let types = try #require(try file.intArray(GGUFTokenizerKey.tokenType))
        let think = try #require(t.tokenId(for: "<think>"))
        #expect(types[think] == 4 && types[imEnd] == 3 && types[0] == 2 && types[1] == 3, "llama.cpp token type codes")
        #expect(try file.int(GGUFTokenizerKey.eotTokenId) == imEnd)
        #expect(try file.int(GGUFTokenizerKey.paddingTokenId) == t.tokenId(for: "<PAD>"))
        #expect(try file.intArray(GGUFTokenizerKey.stopTokenIds) == expected.eos_token_ids)
        #expect(try file.bool(GGUFTokenizerKey.addSpacePrefix) == true)
        // <tool> and <ctrl> are the proto's own user-defined / control pieces, not HF added tokens:
        // sentencepiece handles them itself, so they are not in the split list.
        #expect(try file.intArray(GGUFTokenizerKey.addedTokenIds) == t.addedTokens.map(\.id))
        #expect(t.tokenId(for: "<tool>").map { types[$0] } == 4 && t.tokenId(for: "<ctrl>").map { types[$0] } == 3)

        let back = try GGUFTokenizer.load(file)
        HFDirectoryTokenizerTests.check(back, expected: expected, addsBOS: false, label: "hf-spm via GGUF")
        #expect(back.eosTokenIds == t.eosTokenIds)
        #expect(back.bosTokenId == t.bosTokenId)
        #expect(!back.isSpecial(think) && back.isSpecial(imEnd))
        #expect(back.encode("a<think>b", addSpecialTokens: false, parseSpecial: false)
                == t.encode("a<think>b", addSpecialTokens: false, parseSpecial: false))
        #expect(!back.encode("a<|im_end|>b", addSpecialTokens: false, parseSpecial: false).contains(imEnd))
    }

    /// A model with more embedding rows than tokenizer entries: unused `[PAD<id>]` tokens fill the
    /// gap, and encoding is unchanged.
    @Test func paddedToTheModelVocabulary() throws {
        let (t, expected) = try Self.hfSpm()
        let n = t.vocabularySize
        let file = try Self.gguf(try t.sentencePieceGGUFMetadata(vocabularySize: n + 3, paddingTokenId: nil,
                                                                 endOfTurnTokenId: nil, stopTokenIds: t.eosTokenIds))
        let tokens = try #require(try file.stringArray(GGUFTokenizerKey.tokens))
        #expect(Array(tokens.suffix(3)) == ["[PAD\(n)]", "[PAD\(n + 1)]", "[PAD\(n + 2)]"])
        #expect(try file.intArray(GGUFTokenizerKey.tokenType)?.suffix(3) == [5, 5, 5])
        #expect(try file.int(GGUFTokenizerKey.paddingTokenId) == nil)
        let back = try GGUFTokenizer.load(file)
        let padded = HFDirectoryTokenizerTests.Expected(vocab_size: n + 3, eos_token_ids: expected.eos_token_ids, cases: expected.cases)
        HFDirectoryTokenizerTests.check(back, expected: padded, addsBOS: false, label: "hf-spm via padded GGUF")
    }

    @Test func exportRefusals() throws {
        let (t, _) = try Self.hfSpm()
        #expect(throws: TokenizerExportError("the tokenizer has \(t.vocabularySize) tokens but the model only 10 embedding rows")) {
            try t.sentencePieceGGUFMetadata(vocabularySize: 10, paddingTokenId: nil, endOfTurnTokenId: nil, stopTokenIds: [])
        }
        let unigram = try SentencePieceTokenizer(path: TestAssets.fixture("spm/unigram.model").path)
        let wrapped = try AddedTokensTokenizer(base: unigram, addedTokens: [], bosTokenId: nil, eosTokenIds: [],
                                               addBOS: false, addEOS: false)
        let error = #expect(throws: TokenizerExportError.self) {
            try wrapped.sentencePieceGGUFMetadata(vocabularySize: unigram.vocabularySize, paddingTokenId: nil,
                                                  endOfTurnTokenId: nil, stopTokenIds: [])
        }
        #expect(error?.message.contains("Unigram") == true)
    }

    @Test func readerErrorsNameTheKey() throws {
        let tokens: GGUFValue = .array(.string, ["<unk>", "a", "b"].map { .string($0) })
        let types: GGUFValue = .array(.int32, [2, 1, 1].map { .int32($0) })
        #expect(throws: TokenizerError.unsupportedModel("t5")) {
            try GGUFTokenizer.load(Self.gguf([(GGUFTokenizerKey.model, .string("t5")), (GGUFTokenizerKey.tokens, tokens)]))
        }
        #expect(TokenizerError.unsupportedModel("t5").description.contains("'gpt2' (byte-level BPE), 'llama' (SentencePiece)"))
        #expect(throws: TokenizerError.countMismatch(key: GGUFTokenizerKey.scores, count: 1, expected: 3)) {
            try GGUFTokenizer.load(Self.gguf([(GGUFTokenizerKey.model, .string("llama")), (GGUFTokenizerKey.tokens, tokens),
                                              (GGUFTokenizerKey.scores, .array(.float32, [.float32(0)]))]))
        }
        #expect(throws: TokenizerError.tokenIdOutOfRange(key: GGUFTokenizerKey.eosTokenId, id: 7, vocabularySize: 3)) {
            try GGUFTokenizer.load(Self.gguf([(GGUFTokenizerKey.model, .string("llama")), (GGUFTokenizerKey.tokens, tokens),
                                              (GGUFTokenizerKey.tokenType, types), (GGUFTokenizerKey.eosTokenId, .uint32(7))]))
        }
        // No unknown token and no byte tokens: sentencepiece's own validation, named.
        let error = #expect(throws: TokenizerError.self) {
            try GGUFTokenizer.load(Self.gguf([(GGUFTokenizerKey.model, .string("llama")), (GGUFTokenizerKey.tokens, tokens)]))
        }
        #expect(error?.description.contains("no unknown piece") == true)
        let ok = try GGUFTokenizer.load(Self.gguf([(GGUFTokenizerKey.model, .string("llama")), (GGUFTokenizerKey.tokens, tokens),
                                                   (GGUFTokenizerKey.tokenType, types)]))
        #expect(ok.encode("ab", addSpecialTokens: false) == [0, 1, 2], "▁ is unknown here; a and b are pieces")
    }
}
