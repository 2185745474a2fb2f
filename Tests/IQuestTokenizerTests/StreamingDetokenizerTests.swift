import IQuestTokenizer
import Testing

/// The streaming detokenizer on hand-built byte sequences. Expected text is the UTF-8 decoding of
/// the whole sequence by the standard library (an independent decoder).
@Suite struct StreamingDetokenizerTests {
    /// A tokenizer is required by the initializer; `append(bytes:)` does not consult it.
    static let tokenizer: ByteLevelBPETokenizer? = try? ByteLevelBPETokenizer(
        tokens: ["a", "b", "ab"], merges: ["a b"], preTokenizer: "gpt-2")

    static let characters = ["é", "ж", "€", "中", "한", "😀", "🦙", "𝄞"]

    @Test(arguments: characters)
    func everySplitPointHoldsBackUntilComplete(character: String) throws {
        let tokenizer = try #require(Self.tokenizer)
        let bytes = Array(("x" + character + "y").utf8)
        for cut in 1..<bytes.count {
            var stream = StreamingDetokenizer(tokenizer: tokenizer)
            let first = stream.append(bytes: Array(bytes[..<cut]))
            let second = stream.append(bytes: Array(bytes[cut...]))
            let rest = stream.finish()
            #expect(first + second + rest == "x" + character + "y", "cut \(cut)")
            #expect(!first.unicodeScalars.contains("\u{FFFD}") && !second.unicodeScalars.contains("\u{FFFD}"))
            // The first chunk is exactly the characters that were complete at the cut.
            let completeBefore = cut >= 1 + character.utf8.count ? "x" + character : "x"
            #expect(first == completeBefore, "cut \(cut)")
            #expect(rest.isEmpty)
        }
    }

    @Test(arguments: characters)
    func byteByByte(character: String) throws {
        let tokenizer = try #require(Self.tokenizer)
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        let bytes = Array(character.utf8)
        var chunks: [String] = []
        for b in bytes { chunks.append(stream.append(bytes: [b])) }
        #expect(chunks.dropLast().allSatisfy { $0.isEmpty })
        #expect(chunks.last == character)
        #expect(stream.finish().isEmpty)
    }

    @Test func unfinishedCharacterAtEndBecomesReplacement() throws {
        let tokenizer = try #require(Self.tokenizer)
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        #expect(stream.append(bytes: [0x61, 0xF0, 0x9F, 0x98]) == "a")
        #expect(stream.finish() == "\u{FFFD}")
        #expect(stream.finish().isEmpty)
    }

    /// Bytes that can never start or continue a character are not held back.
    @Test func invalidBytesAreEmittedAtOnce() throws {
        let tokenizer = try #require(Self.tokenizer)
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        #expect(stream.append(bytes: [0x80]) == "\u{FFFD}")
        #expect(stream.append(bytes: [0xFF, 0x41]) == "\u{FFFD}A")
        // E0 80 is an overlong prefix: no third byte can make it valid.
        #expect(stream.append(bytes: [0xE0, 0x80]) == String(decoding: [0xE0, 0x80] as [UInt8], as: UTF8.self))
        #expect(stream.append(bytes: [0xC3]).isEmpty)
        #expect(stream.append(bytes: [0x41]) == "\u{FFFD}A")
    }

    @Test func specialTokensCanBeSkipped() throws {
        let tokenizer = try ByteLevelBPETokenizer(
            tokens: ["a", "b", "<|end|>"], tokenTypes: [.normal, .normal, .control], merges: [], preTokenizer: "gpt-2")
        var keep = StreamingDetokenizer(tokenizer: tokenizer)
        var skip = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: true)
        #expect([0, 2, 1].map { keep.append($0) }.joined() == "a<|end|>b")
        #expect([0, 2, 1].map { skip.append($0) }.joined() == "ab")
    }
}
