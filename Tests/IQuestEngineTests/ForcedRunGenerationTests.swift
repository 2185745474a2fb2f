import Foundation
import IQuestConstraints
import IQuestEngine
import Testing

/// A constraint's forced runs (bytes its grammar admits no alternative to, such as the rest of a
/// fixed key) fed as drafts and verified in one forward: on SmolLM2 with a JSON schema, the output
/// is token for token what one forward per token gives, greedy and sampled, alone (Generator)
/// and batched beside an unconstrained request (BatchScheduler), and each confirmed token is a
/// forward saved.
@Suite("Constraints: forced runs verified in one forward", .serialized)
struct ForcedRunGenerationTests {
    static let schema = #"{"type":"object","properties":{"function_description":{"type":"string","maxLength":40},"number_of_required_arguments":{"type":"integer","minimum":0,"maximum":9},"returns_a_value":{"type":"boolean"}},"required":["function_description","number_of_required_arguments","returns_a_value"],"additionalProperties":false}"#

    static func request(_ loaded: LoadedModel, sampling: SamplingParameters, forcedRuns: ForcedRuns) throws -> GenerationRequest {
        let prompt = try loaded.chatFormat.prompt(for: [ChatMessage(role: "user", content: "Describe Python's len function as JSON.")])
        var request = GenerationRequest(promptIds: loaded.tokenizer.encode(prompt, addSpecialTokens: true, parseSpecial: true),
                                        sampling: sampling, maxTokens: 80)
        request.constraint = OutputConstraint(
            grammar: try JSONSchemaCompiler.grammar(for: try JSONValue.parse(schema)),
            vocabulary: TokenVocabulary(tokenizer: loaded.tokenizer, stopIds: Array(loaded.stopTokenIds).sorted()))
        request.forcedRuns = forcedRuns
        return request
    }

    static let samplings: [(String, SamplingParameters)] = [
        ("greedy", .greedy),
        ("sampled", SamplingParameters(temperature: 0.8, topK: 0, topP: 0.95, minP: 0, seed: 3)),
    ]

    @Test func sameTokensFewerForwards() throws {
        let loaded = try SmolLM2SpeculativeTests.model()
        let generator = Generator(loaded: loaded, contextLength: 512)
        for (name, sampling) in Self.samplings {
            let plain = try generate(generator, try Self.request(loaded, sampling: sampling, forcedRuns: .off))
            // Every forced token fed (deterministic), and the default that feeds what pays (its
            // lengths follow measured step times, so only its output is compared).
            let forced = try generate(generator, try Self.request(loaded, sampling: sampling, forcedRuns: .always))
            let adaptive = try generate(generator, try Self.request(loaded, sampling: sampling, forcedRuns: .adaptive))
            #expect(adaptive.ids == plain.ids, "\(name): adaptive")
            #expect(forced.ids == plain.ids, "\(name): '\(forced.text)' vs '\(plain.text)'")
            #expect(forced.stats.finishReason == plain.stats.finishReason)
            #expect(plain.stats.forcedTokens == 0)
            #expect(forced.stats.forcedAccepted > 0, "\(name): no forced token was confirmed in '\(forced.text)'")
            // Every confirmed forced token is one forward fewer; speculative counters untouched.
            #expect(plain.stats.forwards - forced.stats.forwards == forced.stats.forcedAccepted, "\(name)")
            #expect(forced.stats.draftedTokens == 0 && forced.stats.acceptedTokens == 0)
            #expect((try? JSONValue.parse(forced.text)) != nil || forced.stats.finishReason == .length, "\(name): '\(forced.text)'")

            // Batched with an unconstrained request in the scheduler: the same ids again.
            let scheduler = try BatchScheduler(
                model: loaded.model, tokenizer: loaded.tokenizer, stopTokenIds: loaded.stopTokenIds, blocks: 128,
                configuration: SchedulerConfiguration(maxRunning: 4, maxBatchTokens: 512, maxWaiting: 8, contextLength: 512))
            final class Collected { var ids: [[Int]] = [[], []]; var stats: [GenerationStats?] = [nil, nil] }
            let collected = Collected()
            let other = GenerationRequest(promptIds: loaded.tokenizer.encode("The history of", addSpecialTokens: true),
                                          sampling: .greedy, maxTokens: 30)
            for (index, request) in [try Self.request(loaded, sampling: sampling, forcedRuns: .always), other].enumerated() {
                try scheduler.submit(request) { event in
                    switch event {
                    case .token(let token): collected.ids[index].append(token.id)
                    case .finished(let stats): collected.stats[index] = stats
                    default: break
                    }
                }
            }
            while !scheduler.isIdle { scheduler.step() }
            #expect(collected.ids[0] == plain.ids, "\(name), batched")
            let alone = try generate(generator, other)
            #expect(collected.ids[1] == alone.ids, "\(name): the unconstrained neighbour changed")
            let snapshot = scheduler.snapshot
            #expect(snapshot.forcedAccepted > 0 && snapshot.forcedAccepted <= snapshot.forcedTokens)
            #expect(snapshot.draftedTokens == 0)
            #expect(snapshot.blocksUsed == 0, "the pool did not drain")
        }
    }
}
