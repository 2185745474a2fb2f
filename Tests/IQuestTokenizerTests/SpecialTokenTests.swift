import IQuestTokenizer
import Testing

/// Special and user-defined tokens written in the input. Expected ids were produced by HF
/// tokenizers 0.23.3 with the same vocabulary (BPE without merges, ByteLevel pre-tokenizer,
/// `<|a|>` and `<|a|>b` added as special tokens, `@@` as a normal added token); "parseSpecial:
/// false" corresponds to HF's `encode_special_tokens = True`.
@Suite struct SpecialTokenTests {
    static func tokenizer() throws -> ByteLevelBPETokenizer {
        try ByteLevelBPETokenizer(
            tokens: ["x", "y", "b", "<", "|", "a", ">", "@", "<|a|>", "<|a|>b", "@@"],
            tokenTypes: [.normal, .normal, .normal, .normal, .normal, .normal, .normal, .normal,
                         .control, .control, .userDefined],
            merges: [], preTokenizer: "gpt-2")
    }

    @Test(arguments: [
        ("x<|a|>by", [0, 9, 1]),
        ("x<|a|>y", [0, 8, 1]),
        ("<|a|><|a|>b", [8, 9]),
        ("x@@y", [0, 10, 1]),
        ("@@@", [10, 7]),
    ])
    func longestSpecialWins(text: String, expected: [Int]) throws {
        #expect(try Self.tokenizer().encode(text, addSpecialTokens: false, parseSpecial: true) == expected)
    }

    @Test(arguments: [
        ("x<|a|>by", [0, 3, 4, 5, 4, 6, 2, 1]),
        ("x@@y", [0, 10, 1]),
    ])
    func withoutParsingOnlyUserDefinedMatch(text: String, expected: [Int]) throws {
        #expect(try Self.tokenizer().encode(text, addSpecialTokens: false, parseSpecial: false) == expected)
    }

    @Test func decodeSkipsOnlyControlTokens() throws {
        let t = try Self.tokenizer()
        #expect(t.decode([0, 9, 10, 1], skipSpecialTokens: true) == "x@@y")
        #expect(t.decode([0, 9, 10, 1], skipSpecialTokens: false) == "x<|a|>b@@y")
        #expect(t.tokenBytes(8) == Array("<|a|>".utf8))
        #expect(t.tokenBytes(-1).isEmpty && t.tokenBytes(11).isEmpty && t.piece(for: 11) == nil)
    }
}

/// BOS/EOS policy from GGUF metadata; ids from llama.cpp's .out files and the GGUFs' metadata.
@Suite struct SpecialTokenPolicyTests {
    /// llama-bpe has no add_bos_token key; llama.cpp adds BOS for the Llama 3 pre-tokenizer.
    @Test func llama3AddsBOSByDefault() throws {
        let t = try TestAssets.tokenizer(gguf: TestAssets.cached("llama-vocab/ggml-vocab-llama-bpe.gguf"))
        #expect(t.addBOS && t.bosTokenId == 128000)
        #expect(t.encode("Hello", addSpecialTokens: true) == [128000, 9906])
        #expect(t.encode("Hello", addSpecialTokens: false) == [9906])
        #expect(t.encode("<|eot_id|>", addSpecialTokens: true) == [128000, 128009])
        #expect(t.eosTokenIds.first == 128001 && t.eosTokenIds.contains(128009))
    }

    /// gpt-2 has no add_bos_token key and its pre-tokenizer does not ask for BOS.
    @Test func gpt2AddsNothing() throws {
        let t = try TestAssets.tokenizer(gguf: TestAssets.cached("llama-vocab/ggml-vocab-gpt-2.gguf"))
        #expect(!t.addBOS && !t.addEOS)
        #expect(t.encode("Hello world", addSpecialTokens: true) == [15496, 995])
    }

    /// deepseek-coder's GGUF sets add_bos_token = true, bos_token_id = 32013.
    @Test func explicitAddBOSKey() throws {
        let t = try TestAssets.tokenizer(gguf: TestAssets.cached("llama-vocab/ggml-vocab-deepseek-coder.gguf"))
        #expect(t.addBOS && t.bosTokenId == 32013)
        #expect(t.encode("Hello", addSpecialTokens: true).first == 32013)
    }
}

@Suite struct TokenizerErrorTests {
    @Test func unknownPreTokenizerListsSupportedNames() {
        #expect {
            try ByteLevelBPETokenizer(tokens: ["a"], merges: [], preTokenizer: "no-such-pre")
        } throws: { error in
            guard case .unsupportedPreTokenizer(let name, let supported) = error as? TokenizerError else { return false }
            let message = String(describing: error)
            return name == "no-such-pre" && supported.contains("smollm") && supported.contains("llama-bpe")
                && message.contains("'no-such-pre'") && message.contains("deepseek-coder")
        }
    }

    /// llama-spm is a SentencePiece vocabulary (tokenizer.ggml.model = "llama"): the byte-level BPE
    /// reader refuses it by name (`GGUFTokenizer.load` routes it to SentencePiece).
    @Test func nonGPT2ModelIsRejectedByName() throws {
        let url = try TestAssets.cached("llama-vocab/ggml-vocab-llama-spm.gguf")
        #expect(throws: TokenizerError.unsupportedModel("llama")) { try TestAssets.tokenizer(gguf: url) }
    }

    @Test func malformedInputsAreRejected() {
        #expect(throws: TokenizerError.malformedMerge(index: 1, text: "ab")) {
            try ByteLevelBPETokenizer(tokens: ["a", "b", "ab"], merges: ["a b", "ab"], preTokenizer: "gpt-2")
        }
        #expect(throws: TokenizerError.duplicateToken("a", firstId: 0, secondId: 2)) {
            try ByteLevelBPETokenizer(tokens: ["a", "b", "a"], merges: [], preTokenizer: "gpt-2")
        }
        #expect(throws: TokenizerError.tokenIdOutOfRange(key: "tokenizer.ggml.eos_token_id", id: 5, vocabularySize: 2)) {
            try ByteLevelBPETokenizer(tokens: ["a", "b"], merges: [], preTokenizer: "gpt-2", eosTokenId: 5)
        }
        #expect(throws: TokenizerError.countMismatch(key: "tokenizer.ggml.token_type", count: 1, expected: 2)) {
            try ByteLevelBPETokenizer(tokens: ["a", "b"], tokenTypes: [.normal], merges: [], preTokenizer: "gpt-2")
        }
        #expect(throws: TokenizerError.missingRequiredToken(flag: "tokenizer.ggml.add_bos_token",
                                                            idKey: "tokenizer.ggml.bos_token_id")) {
            try ByteLevelBPETokenizer(tokens: ["a"], merges: [], preTokenizer: "llama-bpe")
        }
        #expect(throws: TokenizerError.emptyVocabulary) {
            try ByteLevelBPETokenizer(tokens: [], merges: [], preTokenizer: "gpt-2")
        }
    }
}
