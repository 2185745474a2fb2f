import Foundation
import IQuestTokenizer
import Testing

/// SmolLM2-135M-Instruct's own GGUF tokenizer ("smollm" pre-tokenizer) against HF ids for a code
/// and prose corpus (Tests/Fixtures/tokenizer, written by tools/gen_tokenizer_fixtures.py).
@Suite struct SmolLM2TokenizerTests {
    struct Expected: Decodable {
        struct Case: Decodable {
            let text: String
            let ids: [Int]
        }
        let separator: String
        let cases: [Case]
    }

    /// Loaded once for all tests of the suite.
    static let loaded: Result<(ByteLevelBPETokenizer, Expected), any Error> = Result {
        let tokenizer = try TestAssets.tokenizer(gguf: TestAssets.cached("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
        let json = try Data(contentsOf: TestAssets.fixture("smollm2-expected.json"))
        return (tokenizer, try JSONDecoder().decode(Expected.self, from: json))
    }

    @Test func fixtureMatchesCorpus() throws {
        let (_, expected) = try Self.loaded.get()
        let corpus = try String(decoding: Data(contentsOf: TestAssets.fixture("corpus.txt")), as: UTF8.self)
        let snippets = corpus.components(separatedBy: expected.separator)
        #expect(snippets.count >= 40)
        #expect(snippets.map { Array($0.utf8) } == expected.cases.map { Array($0.text.utf8) },
                "corpus.txt changed: rerun tools/gen_tokenizer_fixtures.py")
    }

    @Test func idsMatchTransformers() throws {
        let (tokenizer, expected) = try Self.loaded.get()
        var failures: [String] = []
        for (i, c) in expected.cases.enumerated() {
            let got = tokenizer.encode(c.text, addSpecialTokens: false, parseSpecial: true)
            if got != c.ids { failures.append("case \(i) \(c.text.debugDescription):\n  expected \(c.ids)\n  got      \(got)") }
        }
        #expect(failures.isEmpty, "\(failures.count)/\(expected.cases.count) differ:\n\(failures.joined(separator: "\n"))")
    }

    @Test func decodeInvertsEncode() throws {
        let (tokenizer, expected) = try Self.loaded.get()
        for (i, c) in expected.cases.enumerated() {
            let ids = tokenizer.encode(c.text, addSpecialTokens: false, parseSpecial: true)
            // Bytes, not String ==, so that a change of normalization would be caught.
            #expect(Array(tokenizer.decode(ids, skipSpecialTokens: false).utf8) == Array(c.text.utf8), "case \(i)")
        }
    }

    @Test func streamingGivesTextBackWithoutReplacementCharacters() throws {
        let (tokenizer, expected) = try Self.loaded.get()
        var splitCharacters = 0
        for (i, c) in expected.cases.enumerated() {
            var stream = StreamingDetokenizer(tokenizer: tokenizer)
            var text = ""
            for id in c.ids {
                if String(validating: tokenizer.tokenBytes(id), as: UTF8.self) == nil { splitCharacters += 1 }
                let chunk = stream.append(id)
                #expect(!chunk.unicodeScalars.contains("\u{FFFD}"), "case \(i): chunk \(chunk.debugDescription)")
                text += chunk
            }
            text += stream.finish()
            #expect(Array(text.utf8) == Array(c.text.utf8), "case \(i)")
        }
        // The corpus must exercise tokens that end inside a character (emoji, CJK).
        #expect(splitCharacters > 20)
    }

    /// Values from the GGUF's metadata (gguf-py): bos 1 <|im_start|>, eos 2 <|im_end|>,
    /// add_bos_token false; <|endoftext|> (0) also ends a turn.
    @Test func specialTokenMetadata() throws {
        let (tokenizer, _) = try Self.loaded.get()
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.bosTokenId == 1)
        #expect(tokenizer.eosTokenIds.first == 2)
        #expect(tokenizer.eosTokenIds.contains(0))
        #expect(tokenizer.addBOS == false)
        #expect(tokenizer.piece(for: 1) == "<|im_start|>")
        #expect(tokenizer.tokenId(for: "<|im_end|>") == 2)
        #expect(tokenizer.isSpecial(2) && !tokenizer.isSpecial(6004))
    }

    /// HF ids: "<|im_start|>user\nhi<|im_end|>" → [1, 4093, 198, 6004, 2] (transformers 5.24).
    @Test func chatMarkersParseOnlyWhenAsked() throws {
        let (tokenizer, _) = try Self.loaded.get()
        let text = "<|im_start|>user\nhi<|im_end|>"
        #expect(tokenizer.encode(text, addSpecialTokens: true) == [1, 4093, 198, 6004, 2])
        let literal = tokenizer.encode(text, addSpecialTokens: false)
        #expect(!literal.contains(1) && !literal.contains(2))
        #expect(tokenizer.decode(literal, skipSpecialTokens: false) == text)
        #expect(tokenizer.decode([1, 4093, 198, 6004, 2], skipSpecialTokens: true) == "user\nhi")
    }
}
