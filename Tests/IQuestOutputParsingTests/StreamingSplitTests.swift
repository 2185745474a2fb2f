import XCTest
import IQuestOutputParsing

// The property the server relies on: feeding a text in any pieces gives the same output as `parse`
// on the whole text (after merging adjacent deltas of one kind). Checked for every table row at
// every scalar boundary (which includes every Character boundary), one scalar at a time, and at
// seeded random multi-piece splits.

final class StreamingSplitTests: XCTestCase {
    static var allCases: [ParserCase] {
        ReasoningParserTests.cases + HermesToolCallTests.cases + Qwen3CoderToolCallTests.cases + extraCases
    }

    /// Texts whose interest is the splitting itself: tag prefixes everywhere, all modes at once.
    static let extraCases: [ParserCase] = [
        ParserCase("every construct in one output", .tools(.hermes, reasoning: true),
                   "<<think> <thi </th\n<tool_call>{\"name\":\"a\",\"arguments\":{\"s\":\"</tool_call>\"}}</tool_call>\n</think>\n\n<</tool_call><tool_call>{\"name\":\"b\"}</tool_call>  end <",
                   [content("<"), reasoning(" <thi </th"), call("a", #"{"s":"</tool_call>"}"#),
                    content("<</tool_call>"), call("b", "{}"), content("end <")]),
        ParserCase("prefix of one tag that becomes another", .tools(.qwen3Coder, reasoning: true, startsInReasoning: true),
                   "</tool_call></think><tool_call><function=f>\n</function></tool_call>",
                   [reasoning("</tool_call>"), call("f", "{}")]),
    ]

    func testExtraCases() {
        assertTable(Self.extraCases)
    }

    func testEveryTwoPieceSplit() {
        for row in Self.allCases {
            let whole = row.config.parse(row.input)
            let scalars = Array(row.input.unicodeScalars)
            for cut in 0...scalars.count {
                let pieces = [String(String.UnicodeScalarView(scalars[..<cut])), String(String.UnicodeScalarView(scalars[cut...]))]
                XCTAssertEqual(row.config.stream(pieces), whole, "\(row.name) split at \(cut)")
            }
        }
    }

    func testOneScalarAtATime() {
        for row in Self.allCases {
            let pieces = row.input.unicodeScalars.map { String($0) }
            XCTAssertEqual(row.config.stream(pieces), row.config.parse(row.input), row.name)
        }
    }

    func testRandomMultiPieceSplits() {
        var random = SplitMix64(seed: 0x1_0E57)
        for row in Self.allCases {
            let scalars = Array(row.input.unicodeScalars)
            for _ in 0..<40 {
                var pieces: [String] = []
                var start = 0
                while start < scalars.count {
                    let length = Int(random.next() % 7)  // 0 gives empty feeds, which must be harmless
                    let end = min(scalars.count, start + length)
                    pieces.append(String(String.UnicodeScalarView(scalars[start..<end])))
                    start = end
                }
                XCTAssertEqual(row.config.stream(pieces), row.config.parse(row.input), "\(row.name) pieces \(pieces)")
            }
        }
    }

    /// Streaming never shows a tag or a call body: every content/reasoning delta, as it is fed,
    /// is part of the final text of its kind (deltas cannot be taken back).
    func testNoDeltaLeaksTagsWhileStreaming() {
        for row in Self.allCases {
            let whole = row.config.parse(row.input)
            var parser = row.config.makeParser()
            var streamed: [ChatOutputDelta] = []
            for scalar in row.input.unicodeScalars {
                streamed += parser.feed(String(scalar))
                XCTAssertTrue(isPrefix(streamed.mergingAdjacentText(), of: whole), "\(row.name) after \(streamed)")
            }
        }
    }

    /// A long output in one feed and in token-sized feeds (catches quadratic appends: the naive
    /// `UnicodeScalarView.append(contentsOf:)` made this take minutes).
    func testLongOutput() {
        let line = "let 東京 = a < b ? \"x\" : y // 🙂\n"
        let body = String(repeating: line, count: 1_500)
        let text = "<think>\n" + body + "</think>\n\n" + body
        let config = ParserConfig.tools(.hermes, reasoning: true)
        let expected = [reasoning(String(body.dropLast())), content(body)]
        XCTAssertEqual(config.parse(text), expected)
        let scalars = Array(text.unicodeScalars)
        let pieces = stride(from: 0, to: scalars.count, by: 4).map {
            String(String.UnicodeScalarView(scalars[$0..<min($0 + 4, scalars.count)]))
        }
        XCTAssertEqual(config.stream(pieces), expected)
    }

    /// `a` is `b` cut short: equal except that the last delta of `a` may be a text prefix of b's.
    private func isPrefix(_ a: [ChatOutputDelta], of b: [ChatOutputDelta]) -> Bool {
        guard a.count <= b.count else { return false }
        for (index, delta) in a.enumerated() where delta != b[index] {
            guard index == a.count - 1 else { return false }
            switch (delta, b[index]) {
            case (.content(let x), .content(let y)), (.reasoning(let x), .reasoning(let y)):
                return y.unicodeScalars.starts(with: x.unicodeScalars)
            default: return false
            }
        }
        return true
    }
}

/// Deterministic generator so a failing split can be reproduced.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
