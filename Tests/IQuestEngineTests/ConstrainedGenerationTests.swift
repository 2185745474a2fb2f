import Foundation
import IQuestConstraints
import IQuestEngine
import Testing

/// Structured outputs through `Generator` on the tiny fixture model (random weights, so only the
/// constraint keeps the text in shape): sampled outputs follow the schema, stop only where it is
/// complete, are cut with `length` otherwise; logit_bias bans and forces.
@Suite struct ConstrainedGenerationTests {
    /// Whitespace between tokens limited to one byte: a random model would otherwise spend its
    /// budget on the (bounded) padding.
    static var options: JSONSchemaOptions {
        var o = JSONSchemaOptions()
        o.whitespaceLimit = 1
        return o
    }

    static func constraint(_ schema: String, loaded: LoadedModel) throws -> OutputConstraint {
        OutputConstraint(grammar: try JSONSchemaCompiler.grammar(for: try JSONValue.parse(schema), options: options),
                         vocabulary: TokenVocabulary(tokenizer: loaded.tokenizer, stopIds: Array(loaded.stopTokenIds).sorted()))
    }

    @Test func sampledOutputsFollowTheSchema() throws {
        let loaded = try GeneratorTests.loaded()
        let generator = Generator(loaded: loaded)
        let schema = #"{"type":"object","properties":{"ok":{"type":"boolean"},"n":{"enum":[1,2,3]}},"required":["ok","n"],"additionalProperties":false}"#
        let automaton = try GrammarAutomaton(try JSONSchemaCompiler.grammar(for: try JSONValue.parse(schema), options: Self.options))
        var stopped = 0
        for seed in 0..<6 {
            var request = GenerationRequest(promptIds: [1, 5, 9], sampling: SamplingParameters(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: UInt64(seed)),
                                            maxTokens: 60)
            request.constraint = try Self.constraint(schema, loaded: loaded)
            let run = try generate(generator, request)
            let bytes = Array(run.text.utf8)
            var matcher = GrammarMatcher(automaton)
            let stayed = matcher.advance(bytes)
            #expect(stayed, "seed \(seed): '\(run.text)' left the grammar")
            if run.stats.finishReason == .stop {
                stopped += 1
                #expect(matcher.isAccepting, "seed \(seed): stopped on an incomplete '\(run.text)'")
                let value = try JSONValue.parse(run.text)
                #expect(value["ok"]?.boolValue != nil && value["n"] != nil)
            } else {
                #expect(run.stats.finishReason == .length)
                #expect(run.stats.generatedTokens == 60)
            }
        }
        #expect(stopped >= 3, "most walks close the object within 60 tokens")
    }

    @Test func cutOutputsEndWithLength() throws {
        let loaded = try GeneratorTests.loaded()
        var request = GenerationRequest(promptIds: [1, 5, 9], sampling: .greedy, maxTokens: 3)
        request.constraint = try Self.constraint(#"{"type":"array","items":{"type":"string"},"minItems":5}"#, loaded: loaded)
        let run = try generate(Generator(loaded: loaded), request)
        #expect(run.stats.finishReason == .length)
        // Cut inside the array: a valid prefix, and not a complete value.
        var matcher = GrammarMatcher(try GrammarAutomaton(try #require(request.constraint).grammar))
        let stayed = matcher.advance(Array(run.text.utf8))
        #expect(stayed && !matcher.isAccepting, "'\(run.text)'")
    }

    @Test func logitBiasBansAndForces() throws {
        let loaded = try GeneratorTests.loaded()
        let generator = Generator(loaded: loaded)
        let plain = try generate(generator, GenerationRequest(promptIds: [1, 5, 9], sampling: .greedy, maxTokens: 4))
        let first = try #require(plain.ids.first)
        var banned = GenerationRequest(promptIds: [1, 5, 9], sampling: .greedy, maxTokens: 4)
        banned.logitBias = [first: -100]
        let b = try generate(generator, banned)
        #expect(!b.ids.contains(first))
        var forced = GenerationRequest(promptIds: [1, 5, 9], sampling: SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 3), maxTokens: 5)
        forced.logitBias = [42: 100]
        let f = try generate(generator, forced)
        #expect(f.ids == [42, 42, 42, 42, 42])
        var outside = GenerationRequest(promptIds: [1, 5, 9], sampling: .greedy, maxTokens: 4)
        outside.logitBias = [100_000: 1]
        #expect(throws: (any Error).self) { try generate(generator, outside) }
    }

    @Test func constraintWaitsForTheTrigger() throws {
        let loaded = try GeneratorTests.loaded()
        // The trigger never appears in 8 tokens of free text: nothing is constrained, so the
        // greedy continuation is the unconstrained one.
        let plain = try generate(Generator(loaded: loaded), GenerationRequest(promptIds: [1, 5, 9], sampling: .greedy, maxTokens: 8))
        var request = GenerationRequest(promptIds: [1, 5, 9], sampling: .greedy, maxTokens: 8)
        var c = try Self.constraint(#"{"type":"null"}"#, loaded: loaded)
        c.startAfter = "\u{1}never\u{1}"
        request.constraint = c
        let run = try generate(Generator(loaded: loaded), request)
        #expect(run.ids == plain.ids)
    }
}
