import IQuestTokenizer
import Testing

/// llama.cpp's tokenizer test vectors (models/ggml-vocab-*.gguf.inp/.out, produced with HF
/// tokenizers). test-tokenizer-0 encodes with add_special = false and parse_special = false.
@Suite struct LlamaVocabGoldenTests {
    static let vocabs = [
        "gpt-2", "starcoder", "qwen2", "llama-bpe", "deepseek-coder",
        "deepseek-llm", "falcon", "mpt", "refact", "command-r",
    ]

    @Test(arguments: vocabs)
    func matchesEveryCase(vocab: String) throws {
        let tokenizer = try TestAssets.tokenizer(gguf: TestAssets.cached("llama-vocab/ggml-vocab-\(vocab).gguf"))
        let cases = try TestAssets.vocabCases(vocab)
        #expect(cases.count >= 40)
        var failures: [String] = []
        for c in cases {
            let got = tokenizer.encode(c.text, addSpecialTokens: false, parseSpecial: false)
            if got != c.expected {
                failures.append("case \(c.index) \(c.text.debugDescription): expected \(c.expected), got \(got)")
            }
        }
        #expect(failures.isEmpty, "\(vocab): \(failures.count)/\(cases.count) cases differ:\n\(failures.joined(separator: "\n"))")
    }

    /// Decoding the expected ids gives the input back (these vocabularies have no normalizer).
    @Test(arguments: ["gpt-2", "llama-bpe", "qwen2", "starcoder"])
    func decodesExpectedIdsToInput(vocab: String) throws {
        let tokenizer = try TestAssets.tokenizer(gguf: TestAssets.cached("llama-vocab/ggml-vocab-\(vocab).gguf"))
        for c in try TestAssets.vocabCases(vocab) {
            #expect(tokenizer.decode(c.expected, skipSpecialTokens: false) == c.text, "case \(c.index)")
        }
    }
}
