import Foundation
import XCTest
import IQuestConstraints

/// Masks over SmolLM2's vocabulary (49,152 tokens): equal to brute force at random states, and
/// random walks over them produce outputs Python's jsonschema accepts.
final class MaskTests: XCTestCase {
    static let schemas: [String] = [
        #"{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0,"maximum":150},"tags":{"type":"array","items":{"type":"string","enum":["a","b\"q","ü"]},"minItems":1,"maxItems":3}},"required":["name","age"],"additionalProperties":false}"#,
        ##"{"$defs":{"node":{"type":"object","properties":{"v":{"type":"number","minimum":-5,"exclusiveMaximum":5},"kids":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["v"],"additionalProperties":false}},"$ref":"#/$defs/node"}"##,
        #"{"anyOf":[{"type":"string","pattern":"^[A-Z]{2}-\\d{3}$"},{"type":"integer","exclusiveMinimum":9},{"type":"null"}]}"#,
        #"{"type":"array","prefixItems":[{"type":"string","format":"date"},{"type":"boolean"}],"items":{"type":"string","minLength":1,"maxLength":4},"maxItems":4}"#,
        #"{"type":"object","properties":{"id":{"type":"string","format":"uuid"},"score":{"type":"number"}},"required":["id"]}"#,
        #"{"type":"string","minLength":3,"maxLength":20}"#,
        #"{"type":"object","additionalProperties":{"type":"integer"}}"#,
        #"{}"#,
    ]

    func masker(_ schema: String, _ vocabulary: TokenVocabulary) throws -> TokenMasker {
        TokenMasker(vocabulary: vocabulary, automaton: try GrammarAutomaton(try JSONSchemaCompiler.grammar(for: try JSONValue.parse(schema))))
    }

    /// A token choice biased towards quotes, backslashes, digits and multi-byte UTF-8, the
    /// places where masks go wrong.
    static func pick(_ mask: TokenMask, _ vocabulary: TokenVocabulary, accepting: Bool, step: Int, rng: inout some RandomNumberGenerator) -> Int? {
        let stop = vocabulary.stopIds.first ?? -1
        if accepting, Double.random(in: 0..<1, using: &rng) < (step > 40 ? 0.9 : 0.3) { return stop }
        let ids = mask.allowedIds.filter { $0 != stop || !accepting }
        guard !ids.isEmpty else { return accepting ? stop : nil }
        let roll = Double.random(in: 0..<1, using: &rng)
        let predicate: ([UInt8]) -> Bool
        switch roll {
        case ..<0.35: predicate = { $0.contains(0x22) || $0.contains(0x7D) || $0.contains(0x5D) }  // quotes, closers
        case ..<0.5: predicate = { $0.contains(0x5C) }
        case ..<0.65: predicate = { $0.contains { $0 >= 0x30 && $0 <= 0x39 } }
        case ..<0.75: predicate = { $0.contains { $0 >= 0x80 } }
        default: predicate = { _ in true }
        }
        let preferred = ids.filter { id in vocabulary.bytes[id].map(predicate) ?? false }
        let pool = preferred.isEmpty ? ids : preferred
        return pool.randomElement(using: &rng)
    }

    func testMaskEqualsBruteForceAtRandomStates() throws {
        let (_, vocabulary) = try ConstraintAssets.smollm2()
        XCTAssertEqual(vocabulary.size, 49_152)
        var rng = SeededGenerator(seed: 7)
        var compared = 0
        for schema in Self.schemas {
            let masker = try masker(schema, vocabulary)
            var state = masker.automaton.initialState
            for step in 0..<24 {
                let mask = masker.mask(state)
                if step % 6 == 0 {
                    let matcher = GrammarMatcher(masker.automaton, state: state)
                    var brute = TokenMask(size: vocabulary.size)
                    for id in 0..<vocabulary.size {
                        if let bytes = vocabulary.bytes[id] {
                            var copy = matcher
                            if copy.advance(bytes) { brute.insert(id) }
                        } else if vocabulary.stopIds.contains(id), matcher.isAccepting {
                            brute.insert(id)
                        }
                    }
                    XCTAssertEqual(mask, brute, "schema \(schema) step \(step): \(mask.count) vs \(brute.count) allowed")
                    compared += 1
                }
                guard let id = Self.pick(mask, vocabulary, accepting: false, step: 0, rng: &rng), let bytes = vocabulary.bytes[id] else { break }
                var m = GrammarMatcher(masker.automaton, state: state)
                XCTAssertTrue(m.advance(bytes))
                state = m.state
            }
        }
        XCTAssertGreaterThanOrEqual(compared, Self.schemas.count * 2)
    }

    func testRandomWalksValidateWithPythonJSONSchema() throws {
        let (_, vocabulary) = try ConstraintAssets.smollm2()
        var pairs: [(schema: String, instance: String)] = []
        var cut = 0
        for (si, schema) in Self.schemas.enumerated() {
            let masker = try masker(schema, vocabulary)
            for seed in 0..<12 {
                var rng = SeededGenerator(seed: UInt64(1000 * si + seed))
                var state = masker.automaton.initialState
                var bytes: [UInt8] = []
                var finished = false
                for step in 0..<400 {
                    let mask = masker.mask(state)
                    XCTAssertGreaterThan(mask.count, 0, "empty mask before EOS: schema \(si) seed \(seed)")
                    guard let id = Self.pick(mask, vocabulary, accepting: masker.automaton.isAccepting(state), step: step, rng: &rng) else { break }
                    if vocabulary.stopIds.contains(id) { finished = true; break }
                    guard let tb = vocabulary.bytes[id] else { XCTFail("special token \(id) allowed"); break }
                    var m = GrammarMatcher(masker.automaton, state: state)
                    XCTAssertTrue(m.advance(tb))
                    state = m.state
                    bytes += tb
                }
                if finished { pairs.append((schema, String(decoding: bytes, as: UTF8.self))) } else { cut += 1 }
            }
        }
        let failures = try ConstraintAssets.pythonValidate(pairs)
        print("random walks: \(pairs.count) finished and checked by jsonschema, \(cut) cut at 400 tokens, \(failures.count) invalid")
        for (i, message) in failures { print("  INVALID: \(pairs[i].instance.prefix(200)) — \(message)") }
        XCTAssertEqual(failures.count, 0)
        XCTAssertGreaterThanOrEqual(pairs.count, Self.schemas.count * 8)
    }
}

/// SplitMix64: reproducible walks.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E3779B97F4A7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
