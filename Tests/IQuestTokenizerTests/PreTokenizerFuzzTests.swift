import Foundation
import IQuestTokenizer
import Testing

/// Seeded random strings over characters that stress the pre-tokenizer regexes, with ids from HF
/// tokenizers configured like each original model (Tests/Fixtures/tokenizer/fuzz-expected.json,
/// written by tools/gen_tokenizer_fixtures.py). Special-token text is not parsed, as in HF's
/// `encode_special_tokens = True`.
@Suite struct PreTokenizerFuzzTests {
    struct Expected: Decodable {
        let texts: [String]
        let ids: [String: [[Int]]]
    }

    static let vocabs = [
        "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "llama-vocab/ggml-vocab-gpt-2.gguf",
        "llama-vocab/ggml-vocab-llama-bpe.gguf", "llama-vocab/ggml-vocab-qwen2.gguf",
    ]

    @Test(arguments: vocabs)
    func matchesHF(vocab: String) throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: TestAssets.fixture("fuzz-expected.json")))
        let ids = try #require(expected.ids[vocab], "fixture has no ids for \(vocab)")
        #expect(ids.count == expected.texts.count && ids.count >= 100)
        let tokenizer = try TestAssets.tokenizer(gguf: TestAssets.cached(vocab))
        var failures: [String] = []
        for (text, want) in zip(expected.texts, ids) {
            let got = tokenizer.encode(text, addSpecialTokens: false, parseSpecial: false)
            if got != want { failures.append("\(text.debugDescription): expected \(want), got \(got)") }
        }
        #expect(failures.isEmpty, "\(failures.count) differ:\n\(failures.prefix(20).joined(separator: "\n"))")
    }
}
