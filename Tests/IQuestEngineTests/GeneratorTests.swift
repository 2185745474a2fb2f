import Foundation
import IQuestEngine
import IQuestFormats
import IQuestModels
import Testing

/// `Generator` end to end on the tiny f32 fixture model (weights + tokenizer in one GGUF),
/// checked against the transformers reference in expected-f32.json.
@Suite struct GeneratorTests {
    static func loaded() throws -> LoadedModel { try LoadedModel.load(path: EngineFixtures.tinyF32, threads: 2) }

    @Test func loadedModelDescribesTheFixture() throws {
        let reference = try TinyReference.load()
        let loaded = try Self.loaded()
        #expect(loaded.model.vocabularySize == reference.config.vocab_size)
        #expect(loaded.model.contextLength == reference.config.context_length)
        #expect(loaded.tokenizer.vocabularySize == reference.config.vocab_size)
        // EOS (317) and ChatML's <|im_end|> (319) end generation.
        #expect(loaded.stopTokenIds == [reference.config.eos_id, 319])
        #expect(loaded.chatFormat.endOfTurnTokenId == 319)
    }

    @Test func greedyReproducesTransformers() throws {
        let reference = try TinyReference.load()
        let loaded = try Self.loaded()
        let generator = Generator(loaded: loaded)
        for prompt in reference.prompts {
            let run = try generate(generator, GenerationRequest(promptIds: prompt.ids, sampling: .greedy, maxTokens: reference.n_greedy))
            #expect(run.ids == prompt.greedy_ids, "\(prompt.name)")
            #expect(run.stats.promptTokens == prompt.ids.count)
            #expect(run.stats.generatedTokens == reference.n_greedy)
            #expect(run.stats.finishReason == .length)
            #expect(run.stats.prefillSeconds >= 0 && run.stats.decodeSeconds >= 0)
            // The streamed pieces add up to the decoded continuation.
            #expect(run.text == loaded.tokenizer.decode(prompt.greedy_ids, skipSpecialTokens: false), "\(prompt.name)")
            #expect(run.tokens.allSatisfy { $0.logprob == nil && $0.topLogprobs.isEmpty })
        }
    }

    /// Prefill split into small chunks gives the same continuation.
    @Test func chunkedPrefillGivesTheSameContinuation() throws {
        let reference = try TinyReference.load()
        var generator = Generator(loaded: try Self.loaded())
        generator.prefillChunk = 3
        let prompt = try reference.prompt("long")
        let run = try generate(generator, GenerationRequest(promptIds: prompt.ids, sampling: .greedy, maxTokens: reference.n_greedy))
        #expect(run.ids == prompt.greedy_ids)
    }

    @Test(arguments: [0, 1, 5])
    func maxTokensIsRespected(maxTokens: Int) throws {
        let reference = try TinyReference.load()
        let prompt = try reference.prompt("medium")
        let run = try generate(Generator(loaded: try Self.loaded()),
                               GenerationRequest(promptIds: prompt.ids, sampling: .greedy, maxTokens: maxTokens))
        #expect(run.ids == Array(prompt.greedy_ids.prefix(maxTokens)))
        #expect(run.stats.generatedTokens == maxTokens)
        #expect(run.stats.finishReason == .length)
    }

    @Test func promptFillingTheContextIsRefused() throws {
        let reference = try TinyReference.load()
        let loaded = try Self.loaded()
        // The model's own context (256 tokens).
        let long = (0..<reference.config.context_length).map { ($0 * 37 + 5) % 300 }
        do {
            _ = try generate(Generator(loaded: loaded), GenerationRequest(promptIds: long, maxTokens: 4))
            Issue.record("a \(long.count)-token prompt in a \(reference.config.context_length)-token context was accepted")
        } catch let error as GenerationError {
            #expect(error.message.contains("context"), "message: \(error.message)")
            #expect(error.message.contains("\(long.count)"), "message: \(error.message)")
        }
        // A smaller context set on the generator.
        let prompt = try reference.prompt("medium")
        let small = Generator(loaded: loaded, contextLength: prompt.ids.count)
        #expect(small.contextLength == prompt.ids.count)
        #expect(throws: GenerationError.self) { try generate(small, GenerationRequest(promptIds: prompt.ids, maxTokens: 4)) }
        // A context larger than the model's is capped to the model's.
        #expect(Generator(loaded: loaded, contextLength: 100_000).contextLength == reference.config.context_length)
    }

    /// With one free slot after the prompt, generation stops at the end of the context
    /// (the last sampled token is never fed back), with finish reason .length.
    @Test func generationStopsAtTheEndOfTheContext() throws {
        let reference = try TinyReference.load()
        let prompt = try reference.prompt("medium")
        let generator = Generator(loaded: try Self.loaded(), contextLength: prompt.ids.count + 1)
        let run = try generate(generator, GenerationRequest(promptIds: prompt.ids, sampling: .greedy, maxTokens: 50))
        #expect(run.ids == Array(prompt.greedy_ids.prefix(2)))
        #expect(run.stats.finishReason == .length)
    }

    @Test func invalidRequestsAreRefused() throws {
        let generator = Generator(loaded: try Self.loaded())
        #expect(throws: GenerationError.self) { try generate(generator, GenerationRequest(promptIds: [])) }
        #expect(throws: GenerationError.self) { try generate(generator, GenerationRequest(promptIds: [1, 320])) }
        #expect(throws: GenerationError.self) { try generate(generator, GenerationRequest(promptIds: [1, -1])) }
        #expect(throws: GenerationError.self) { try generate(generator, GenerationRequest(promptIds: [1, 2], maxTokens: -1)) }
        #expect(throws: SamplingParametersError.self) {
            try generate(generator, GenerationRequest(promptIds: [1, 2], sampling: SamplingParameters(temperature: -1)))
        }
    }

    @Test func returningFalseFromTheCallbackStops() throws {
        let reference = try TinyReference.load()
        let prompt = try reference.prompt("short")
        let run = try generate(Generator(loaded: try Self.loaded()),
                               GenerationRequest(promptIds: prompt.ids, sampling: .greedy, maxTokens: 10), stopAfter: 3)
        #expect(run.ids == Array(prompt.greedy_ids.prefix(3)))
        #expect(run.stats.generatedTokens == 3)
    }

    /// A stop string taken from the middle of the known greedy continuation: the streamed text is
    /// everything before its first occurrence, and generation ends there with .stop.
    @Test(arguments: ["short", "medium", "long"])
    func stopStringCutsTheText(promptName: String) throws {
        let reference = try TinyReference.load()
        let prompt = try reference.prompt(promptName)
        let loaded = try Self.loaded()
        let tokenizer = loaded.tokenizer
        let full = tokenizer.decode(prompt.greedy_ids, skipSpecialTokens: false)
        // Stop on the text of two consecutive greedy tokens from the middle, as decoded by the
        // tokenizer (the first such pair that is whole UTF-8: the tiny vocabulary has byte tokens).
        let start = try #require((4..<14).first { i in
            let text = tokenizer.decode(Array(prompt.greedy_ids[i..<(i + 2)]), skipSpecialTokens: false)
            return !text.isEmpty && !text.contains("\u{FFFD}")
        }, "no clean two-token window in \(prompt.greedy_ids)")
        let stop = tokenizer.decode(Array(prompt.greedy_ids[start..<(start + 2)]), skipSpecialTokens: false)
        let cut = try #require(full.range(of: stop), "'\(stop)' not in '\(full)'")
        let before = String(full[..<cut.lowerBound])
        let run = try generate(Generator(loaded: loaded),
                               GenerationRequest(promptIds: prompt.ids, sampling: .greedy, maxTokens: 16, stopStrings: ["@@never@@", stop]))
        #expect(run.stats.finishReason == .stop, "\(promptName): stop '\(stop)'")
        // Anthropic's stop_sequence reports which string matched.
        #expect(run.stats.stopString == stop)
        #expect(run.text == before, "\(promptName): stop '\(stop)': got '\(run.text)', expected '\(before)'")
        #expect(!run.text.contains(stop))
        #expect(run.ids.count <= start + 2)
        #expect(run.ids == Array(prompt.greedy_ids.prefix(run.ids.count)))
        // The token that completed the stop string ends the run: the text through it contains the stop.
        let through = tokenizer.decode(run.ids, skipSpecialTokens: false)
        #expect(through.contains(stop))
        #expect(!tokenizer.decode(Array(run.ids.dropLast()), skipSpecialTokens: false).contains(stop))
    }

    /// A stop string that never appears leaves the output alone.
    @Test func absentStopStringChangesNothing() throws {
        let reference = try TinyReference.load()
        let prompt = try reference.prompt("long")
        let loaded = try Self.loaded()
        let run = try generate(Generator(loaded: loaded),
                               GenerationRequest(promptIds: prompt.ids, sampling: .greedy, maxTokens: 16, stopStrings: ["\u{1F600}zz"]))
        #expect(run.ids == prompt.greedy_ids)
        #expect(run.text == loaded.tokenizer.decode(prompt.greedy_ids, skipSpecialTokens: false))
        #expect(run.stats.finishReason == .length)
        #expect(run.stats.stopString == nil)
    }

    /// An end-of-sequence id ends generation with .stop. The fixture's EOS is rewritten to the
    /// second greedy token of the "short" prompt so the stop is known in advance.
    @Test func eosTokenStops() throws {
        let reference = try TinyReference.load()
        let prompt = try reference.prompt("short")
        let eos = prompt.greedy_ids[1]
        try #require(prompt.greedy_ids[0] != eos)
        let dir = try EngineTempDirectory()
        let path = dir.path("eos.gguf")
        let source = try GGUFFile(path: EngineFixtures.tinyF32)
        let original = try #require(source.metadata["tokenizer.ggml.eos_token_id"])
        let replaced: GGUFValue
        switch original {
        case .uint32: replaced = .uint32(UInt32(eos))
        case .int32: replaced = .int32(Int32(eos))
        default: replaced = .uint64(UInt64(eos))
        }
        try copyGGUF(from: EngineFixtures.tinyF32, to: path, replacing: ["tokenizer.ggml.eos_token_id": replaced])
        let loaded = try LoadedModel.load(path: path, threads: 2)
        #expect(loaded.stopTokenIds.contains(eos))
        let run = try generate(Generator(loaded: loaded), GenerationRequest(promptIds: prompt.ids, sampling: .greedy, maxTokens: 16))
        #expect(run.ids == Array(prompt.greedy_ids.prefix(2)))
        #expect(run.stats.finishReason == .stop)
        #expect(run.stats.generatedTokens == 2)
        // ignoreStopTokens (the server's `ignore_eos`) runs on through the EOS id: the reference's
        // greedy continuation token for token, ending on the length budget.
        var through = GenerationRequest(promptIds: prompt.ids, sampling: .greedy, maxTokens: 8)
        through.ignoreStopTokens = true
        let long = try generate(Generator(loaded: loaded), through)
        #expect(long.ids == Array(prompt.greedy_ids.prefix(8)))
        #expect(long.stats.finishReason == .length)
    }

    @Test func seededSamplingIsReproducible() throws {
        let reference = try TinyReference.load()
        let prompt = try reference.prompt("medium")
        let generator = Generator(loaded: try Self.loaded())
        func sample(seed: UInt64) throws -> [Int] {
            let params = SamplingParameters(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: seed)
            return try generate(generator, GenerationRequest(promptIds: prompt.ids, sampling: params, maxTokens: 16)).ids
        }
        let a = try sample(seed: 1234), b = try sample(seed: 1234)
        #expect(a == b)
        #expect(a.count == 16)
        // Sampling at T = 1.5 actually samples: some seed departs from greedy and from seed 1234.
        let others = try (1...4).map { try sample(seed: UInt64($0)) }
        #expect(others.contains { $0 != a })
        #expect(([a] + others).contains { $0 != prompt.greedy_ids })
    }

    /// Log-probabilities come from the raw logits: at step 0 they equal log-softmax of the
    /// reference's logits at the last prompt position.
    @Test(arguments: ["short", "medium", "long"])
    func logprobsMatchReferenceLogSoftmax(promptName: String) throws {
        let reference = try TinyReference.load()
        let prompt = try reference.prompt(promptName)
        let k = 5
        // Sampled (not greedy) with a filter, to show the logprobs ignore the sampling filters.
        let params = SamplingParameters(temperature: 0.7, topK: 3, topP: 0.9, minP: 0.05, seed: 99)
        let run = try generate(Generator(loaded: try Self.loaded()),
                               GenerationRequest(promptIds: prompt.ids, sampling: params, maxTokens: 4, logprobs: true, topLogprobs: k))
        try #require(run.tokens.count == 4)
        let expected = referenceLogSoftmax(prompt.logits[prompt.ids.count - 1])
        let first = run.tokens[0]
        let logprob = try #require(first.logprob)
        #expect(abs(Double(logprob) - expected[first.id]) <= 1e-4, "\(promptName): logprob of \(first.id): \(logprob) vs \(expected[first.id])")
        let order = expected.indices.sorted { expected[$0] > expected[$1] }
        #expect(first.topLogprobs.count == k)
        for (i, alt) in first.topLogprobs.enumerated() {
            #expect(abs(Double(alt.logprob) - expected[alt.id]) <= 1e-4, "\(promptName): alternative \(i) id \(alt.id)")
            #expect(abs(Double(alt.logprob) - expected[order[i]]) <= 1e-4, "\(promptName): alternative \(i) is not the \(i)-th most likely")
        }
        for token in run.tokens {
            let lp = try #require(token.logprob)
            #expect(lp <= 0)
            #expect(token.topLogprobs.count == k)
            #expect(zip(token.topLogprobs, token.topLogprobs.dropFirst()).allSatisfy { $0.logprob >= $1.logprob })
            // The sampled id is within top-3 (topK: 3), so it is among the 5 alternatives with the same value.
            let match = token.topLogprobs.first { $0.id == token.id }
            #expect(match != nil && abs(match!.logprob - lp) <= 1e-6)
        }
        // logprobs without alternatives.
        let plain = try generate(Generator(loaded: try Self.loaded()),
                                 GenerationRequest(promptIds: prompt.ids, sampling: .greedy, maxTokens: 1, logprobs: true))
        let plainLogprob = try #require(plain.tokens.first?.logprob)
        #expect(plain.tokens[0].id == prompt.greedy_ids[0])
        #expect(abs(Double(plainLogprob) - expected[prompt.greedy_ids[0]]) <= 1e-4)
        #expect(plain.tokens[0].topLogprobs.isEmpty)
    }
}
