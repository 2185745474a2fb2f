import XCTest
import IQuestConstraints

/// The grammar's forced runs (bytes that admit no alternative) and their split into vocabulary
/// tokens, which the engine feeds as drafts verified in one forward. Both are checked against
/// brute force: every other byte dead at each forced position, no longer token at each split.
final class ForcedRunTests: XCTestCase {
    func automaton(_ schema: String, whitespace: Int = 0) throws -> GrammarAutomaton {
        var options = JSONSchemaOptions()
        options.whitespaceLimit = whitespace
        return try GrammarAutomaton(try JSONSchemaCompiler.grammar(for: try JSONValue.parse(schema), options: options))
    }

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func testFixedKeysAreForcedUpToTheFirstChoice() throws {
        let a = try automaton(#"{"type":"object","properties":{"description":{"type":"string"}},"required":["description"],"additionalProperties":false}"#)
        XCTAssertEqual(text(a.forcedBytes(from: a.initialState, limit: 64)), #"{"description":""#)
        XCTAssertEqual(text(a.forcedBytes(from: a.initialState, limit: 5)), #"{"des"#)
        // Inside the string every character is a choice.
        var m = GrammarMatcher(a)
        XCTAssertTrue(m.advance(Array(#"{"description":"x"#.utf8)))
        XCTAssertEqual(a.forcedBytes(from: m.state, limit: 64), [])
        // A closed value: accepting, so nothing is forced even though no byte may follow.
        XCTAssertTrue(m.advance(Array(#""}"#.utf8)))
        XCTAssertTrue(m.isAccepting)
        XCTAssertEqual(a.forcedBytes(from: m.state, limit: 64), [])
    }

    func testAnEnumIsForcedOnlyAsFarAsItsCommonPrefix() throws {
        let a = try automaton(#"{"enum":["prefix_one","prefix_two"]}"#)
        XCTAssertEqual(text(a.forcedBytes(from: a.initialState, limit: 64)), #""prefix_"#)
        // With whitespace allowed before a value, the first byte is already a choice.
        let spaced = try automaton(#"{"enum":["prefix_one","prefix_two"]}"#, whitespace: 2)
        XCTAssertEqual(spaced.forcedBytes(from: spaced.initialState, limit: 64), [])
    }

    /// Along random walks through the suite's schemas: each forced byte is the only one of 256
    /// whose transition lives (asked through `next`, not `allowedBytes`), the state before it is
    /// not accepting, and the run stops exactly where that no longer holds (or at the limit).
    func testForcedBytesMatchBruteForceAlongWalks() throws {
        var rng = SeededGenerator(seed: 11)
        var checked = 0, nonEmpty = 0
        for schema in MaskTests.schemas {
            let a = try automaton(schema, whitespace: 1)
            for _ in 0..<8 {
                var state = a.initialState
                for _ in 0..<40 {
                    let forced = a.forcedBytes(from: state, limit: 24)
                    var s = state
                    for byte in forced {
                        XCTAssertFalse(a.isAccepting(s))
                        let live = (0...255).filter { a.next(s, UInt8($0)) >= 0 }
                        XCTAssertEqual(live, [Int(byte)], "schema \(schema)")
                        s = a.next(s, byte)
                    }
                    if forced.count < 24 {
                        let live = (0...255).filter { a.next(s, UInt8($0)) >= 0 }
                        XCTAssertTrue(a.isAccepting(s) || live.count != 1, "the run stopped early in \(schema)")
                    }
                    checked += 1
                    if !forced.isEmpty { nonEmpty += 1 }
                    let live = (0...255).filter { a.next(state, UInt8($0)) >= 0 }
                    guard let byte = live.randomElement(using: &rng) else { break }
                    state = a.next(state, UInt8(byte))
                }
            }
        }
        XCTAssertGreaterThan(nonEmpty, 20, "the walks met forced runs (\(nonEmpty) of \(checked) states)")
    }

    /// Greedy longest match over SmolLM2's vocabulary: the tokens spell the text from its start,
    /// and at each position no vocabulary token that also fits is longer (brute force over all).
    func testLongestMatchTokensAgainstBruteForce() throws {
        let (_, vocabulary) = try ConstraintAssets.smollm2()
        let entries = vocabulary.bytes.enumerated().compactMap { id, b in b.map { (id, $0) } }
        for sample in [#"{"description": ""#, "\"number_of_arguments\":", "    return x\n", "naïve → ü", "\u{1}\u{7f}"] {
            let bytes = Array(sample.utf8)
            let ids = vocabulary.longestMatchTokens(bytes)
            var position = 0
            for id in ids {
                let piece = try XCTUnwrap(vocabulary.bytes[id])
                XCTAssertEqual(Array(bytes[position..<position + piece.count]), piece, sample)
                let longest = entries.filter { bytes[position...].starts(with: $0.1) }.map(\.1.count).max()
                XCTAssertEqual(piece.count, longest, "\(sample) at \(position)")
                position += piece.count
            }
            // SmolLM2 has every single byte as a token, so the split covers the whole text.
            XCTAssertEqual(position, bytes.count, sample)
        }
    }
}
