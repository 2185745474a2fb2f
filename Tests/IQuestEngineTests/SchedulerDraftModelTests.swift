import Foundation
import IQuestEngine
import IQuestModels
import Testing

/// A draft model in the batching scheduler (what `serve --model-draft` runs): each request gets
/// its own draft cache and seeded sampler, drafts are verified in the shared step, and the
/// output is what the generator's draft mode gives (greedy: plain decoding's ids).
@Suite("Speculative decoding with a draft model, batched")
struct SchedulerDraftModelTests {
    /// f32 drafts for itself (every greedy draft accepted: the runners stay aligned through
    /// batching and rollback); q8_0 is another random model (drafts mostly rejected). Both alone
    /// and all prompts batched, k = 1, 3, 8: the ids are plain decoding's and the pool drains.
    @Test(arguments: ["f32", "q8_0"])
    func greedyIdentityBatched(type: String) throws {
        let target = try SchedulerFixtures.tiny()
        let draft = try SchedulerFixtures.tiny(type)
        let prompts = SpeculativePrompts.all(vocabulary: target.model.vocabularySize)
        let plain = try SchedulerHarness(target)
        let plainIds = try prompts.map { try plain.submit($0.ids, maxTokens: 20) }
        plain.runUntilIdle()
        for k in [1, 3, 8] {
            for batched in [false, true] {
                let harness = try SchedulerHarness(target, draftModel: draft.model)
                var ids: [Int] = []
                for prompt in prompts {
                    ids.append(try harness.submit(prompt.ids, maxTokens: 20,
                                                  speculative: SpeculativeOptions(mode: .draft, draftMax: k, adaptive: false)))
                    if !batched { harness.runUntilIdle() }
                }
                harness.runUntilIdle()
                for (i, prompt) in prompts.enumerated() {
                    #expect(harness.run(ids[i]).ids == plain.run(plainIds[i]).ids, "\(prompt.name), k \(k), batched \(batched)")
                    #expect(harness.run(ids[i]).failure == nil)
                }
                let s = harness.scheduler.snapshot
                #expect(s.draftedTokens > 0, "k \(k): nothing was drafted")
                if type == "f32" { #expect(s.acceptedTokens == s.draftedTokens, "k \(k): \(s.acceptedTokens) of \(s.draftedTokens)") }
                #expect(s.blocksUsed == 0 && s.holdsByBlocks == 0, "k \(k): the pool did not drain")
            }
        }
    }

    /// Sampled: the scheduler's draft mode draws exactly what the generator's does for the same
    /// seed (same draft stream, same target generator, same acceptance rule).
    @Test func sampledMatchesTheGenerator() throws {
        let target = try SchedulerFixtures.tiny()
        let draft = try SchedulerFixtures.tiny("q4_0")
        var generator = Generator(loaded: target)
        generator.draftModel = draft
        var sampling = SamplingParameters(temperature: 0.9, topK: 0, topP: 0.95, minP: 0)
        sampling.seed = 7
        let options = SpeculativeOptions(mode: .draft, draftMax: 4, adaptive: false)
        for prompt in SpeculativePrompts.all(vocabulary: target.model.vocabularySize) {
            var request = GenerationRequest(promptIds: prompt.ids, sampling: sampling, maxTokens: 24)
            request.speculative = options
            let want = try generate(generator, request)
            let harness = try SchedulerHarness(target, draftModel: draft.model)
            let id = try harness.submit(prompt.ids, maxTokens: 24, logprobs: false, sampling: sampling, speculative: options)
            harness.runUntilIdle()
            #expect(harness.run(id).ids == want.ids, "\(prompt.name)")
            #expect(want.stats.draftedTokens > 0)
        }
    }

    @Test func draftModeWithoutADraftModelIsRefused() throws {
        let target = try SchedulerFixtures.tiny()
        let harness = try SchedulerHarness(target)
        let error = #expect(throws: SubmitError.self) {
            try harness.submit([1, 2, 3], speculative: SpeculativeOptions(mode: .draft))
        }
        #expect(error?.description.contains("needs a draft model") == true)
        #expect(throws: GenerationError.self) {
            _ = try BatchScheduler(model: target.model, tokenizer: target.tokenizer, stopTokenIds: target.stopTokenIds, blocks: 16,
                               configuration: SchedulerConfiguration(contextLength: 64, speculative: SpeculativeOptions(mode: .draft)))
        }
    }
}
