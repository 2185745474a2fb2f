import Foundation
import IQuestEngine
import IQuestKernels
import IQuestModels
import Testing

/// What one request produced through the scheduler.
struct ScheduledRun: Equatable {
    var ids: [Int] = []
    /// Bit patterns of each token's log-probability and of its top alternatives' (exact equality).
    var logprobBits: [[UInt32]] = []
    var cached = -1
    var finish: FinishReason?
    var failure: String?
}

/// Drives a `BatchScheduler` in tests: submits, steps, collects events per request.
final class SchedulerHarness {
    let scheduler: BatchScheduler
    private(set) var runs: [Int: ScheduledRun] = [:]
    var cancelled: Set<Int> = []
    private var pendingCancel: [Int: Bool] = [:]

    init(_ loaded: LoadedModel, blocks: Int = 256, blockSize: Int = 16, maxRunning: Int = 16, maxBatchTokens: Int = 512,
         maxWaiting: Int = 64, kvTypes: KVCacheTypes = .f32, draftModel: (any LanguageModel)? = nil) throws {
        scheduler = try BatchScheduler(model: loaded.model, tokenizer: loaded.tokenizer, stopTokenIds: loaded.stopTokenIds,
                                   blocks: blocks, blockSize: blockSize, kvTypes: kvTypes,
                                   configuration: SchedulerConfiguration(maxRunning: maxRunning, maxBatchTokens: maxBatchTokens,
                                                                         maxWaiting: maxWaiting, contextLength: loaded.model.contextLength),
                                   draftModel: draftModel)
    }

    /// Submits; returns the request id.
    @discardableResult
    func submit(_ prompt: [Int], maxTokens: Int = 8, logprobs: Bool = true, sampling: SamplingParameters = .greedy,
                speculative: SpeculativeOptions = .off) throws -> Int {
        var request = GenerationRequest(promptIds: prompt, sampling: sampling, maxTokens: maxTokens, logprobs: logprobs,
                                        topLogprobs: logprobs ? 3 : 0)
        request.speculative = speculative
        var id = -1
        let box = IdBox()
        id = try scheduler.submit(request, isCancelled: { [unowned self] in self.cancelled.contains(box.id) }) { [unowned self] event in
            var run = self.runs[box.id] ?? ScheduledRun()
            switch event {
            case .started(let cached): run.cached = cached
            case .token(let token):
                run.ids.append(token.id)
                run.logprobBits.append([token.logprob?.bitPattern ?? 0] + token.topLogprobs.map { $0.logprob.bitPattern })
            case .finished(let stats): run.finish = stats.finishReason
            case .failed(let message): run.failure = message
            }
            self.runs[box.id] = run
        }
        box.id = id
        return id
    }

    func run(_ id: Int) -> ScheduledRun { runs[id] ?? ScheduledRun() }

    /// Steps until idle, checking block accounting after every step.
    func runUntilIdle(maxSteps: Int = 10_000) {
        var steps = 0
        while !scheduler.isIdle && steps < maxSteps {
            scheduler.step()
            checkAccounting()
            steps += 1
        }
        #expect(scheduler.isIdle, "still busy after \(maxSteps) steps")
    }

    func checkAccounting() {
        let s = scheduler.snapshot
        #expect(s.blocksUsed + s.blocksCached + s.blocksFree == s.blocksTotal)
        #expect(s.holdsByBlocks == s.holdsBySequences, "holds: blocks \(s.holdsByBlocks) vs tables \(s.holdsBySequences)")
    }
}

final class IdBox: @unchecked Sendable { var id = -1 }

enum SchedulerFixtures {
    static func tiny(_ type: String = "f32") throws -> LoadedModel {
        try LoadedModel.load(path: EngineFixtures.path("tiny-llama/tiny-\(type).gguf"), threads: 2)
    }

    static func loop() throws -> LoadedModel {
        try LoadedModel.load(path: EngineFixtures.path("tiny-loop/hf"), threads: 2)
    }

    /// The long-context checkpoints (head_dim 32, every KV type applies): "dense" or "loop" (window 64).
    static func longContext(_ model: String) throws -> LoadedModel {
        try LoadedModel.load(path: EngineFixtures.path("long-context/\(model)"), threads: 2)
    }

    /// Five prompts of different lengths (3 … 40 tokens) from the reference prompts.
    static func prompts(_ reference: TinyReference) -> [[Int]] {
        let long = reference.prompts[2].ids
        return [reference.prompts[0].ids, reference.prompts[1].ids, long, Array(long[0..<23]) + [7, 9], [11, 12, 13]]
    }
}

@Suite("Batch scheduler: batching never changes a request's output")
struct BatchInvarianceTests {
    /// Each prompt alone, then all at once with a small token budget (prompt chunks share steps
    /// with other requests' decode rows): the same ids and bit-identical log-probabilities.
    @Test(arguments: ["f32", "q8_0", "q4_1"])
    func denseBatchedEqualsAlone(type: String) throws {
        let loaded = try SchedulerFixtures.tiny(type)
        let prompts = SchedulerFixtures.prompts(try TinyReference.load())
        try checkBatchedEqualsAlone(loaded, prompts: prompts, maxTokens: 10)
    }

    @Test func loopBatchedEqualsAlone() throws {
        let loaded = try SchedulerFixtures.loop()
        let vocabulary = loaded.model.vocabularySize
        let prompts = [[1, 2, 3], Array(5..<40).map { $0 % vocabulary }, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11],
                       Array(100..<118).map { $0 % vocabulary }, [42]]
        try checkBatchedEqualsAlone(loaded, prompts: prompts, maxTokens: 10)
    }

    /// The scheduler's greedy ids are transformers' (not only self-consistent).
    @Test func greedyMatchesTransformers() throws {
        let reference = try TinyReference.load()
        let harness = try SchedulerHarness(try SchedulerFixtures.tiny(), maxBatchTokens: 7)
        let ids = try reference.prompts.map { try harness.submit($0.ids, maxTokens: reference.n_greedy) }
        harness.runUntilIdle()
        for (id, prompt) in zip(ids, reference.prompts) {
            #expect(harness.run(id).ids == prompt.greedy_ids, "\(prompt.name)")
        }
    }

    /// Every KV storage type keeps the guarantee (checkpoints with head_dim 32 so q8_0/q4_0 apply).
    @Test(arguments: KVCacheType.allCases)
    func batchedEqualsAlonePerKVType(type: KVCacheType) throws {
        for model in ["dense", "loop"] {
            let loaded = try SchedulerFixtures.longContext(model)
            let prompts = [[1, 2, 3], Array(5..<80).map { $0 * 7 % 900 }, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11],
                           Array(100..<133), [42]]
            try checkBatchedEqualsAlone(loaded, prompts: prompts, maxTokens: 10, kvTypes: KVCacheTypes(type))
        }
    }

    private func checkBatchedEqualsAlone(_ loaded: LoadedModel, prompts: [[Int]], maxTokens: Int,
                                         kvTypes: KVCacheTypes = .f32) throws {
        var alone: [ScheduledRun] = []
        for prompt in prompts {
            let harness = try SchedulerHarness(loaded, kvTypes: kvTypes)
            let id = try harness.submit(prompt, maxTokens: maxTokens)
            harness.runUntilIdle()
            alone.append(harness.run(id))
        }
        for budget in [7, 512] {
            let harness = try SchedulerHarness(loaded, maxBatchTokens: budget, kvTypes: kvTypes)
            let ids = try prompts.map { try harness.submit($0, maxTokens: maxTokens) }
            var widest = 0
            while !harness.scheduler.isIdle {
                harness.scheduler.step()
                harness.checkAccounting()
                widest = max(widest, harness.scheduler.lastStep.decoded.count)
            }
            #expect(widest >= (budget == 512 ? 4 : 2), "some step should decode several requests at once")
            for (i, id) in ids.enumerated() {
                let run = harness.run(id)
                #expect(run.ids.count == maxTokens)
                #expect(run.ids == alone[i].ids, "prompt \(i), budget \(budget)")
                #expect(run.logprobBits == alone[i].logprobBits, "prompt \(i), budget \(budget): log-probabilities differ")
            }
            #expect(harness.scheduler.snapshot.blocksUsed == 0)
        }
    }
}

@Suite("Batch scheduler: prefix cache")
struct PrefixCacheTests {
    /// A request sharing full blocks with an earlier one starts from them and produces exactly
    /// what a cold run produces.
    @Test(arguments: [("f32", 16), ("q8_0", 4), ("loop", 4), ("loop", 16)])
    func hitGivesColdResults(model: String, blockSize: Int) throws {
        let loaded = model == "loop" ? try SchedulerFixtures.loop() : try SchedulerFixtures.tiny(model)
        try checkHitGivesColdResults(loaded, blockSize: blockSize, kvTypes: .f32)
    }

    /// The same for every KV storage type (dense and Loop, whose window blocks are cached too).
    @Test(arguments: KVCacheType.allCases)
    func hitGivesColdResultsPerKVType(type: KVCacheType) throws {
        for (model, blockSize) in [("dense", 16), ("loop", 4)] {
            try checkHitGivesColdResults(try SchedulerFixtures.longContext(model), blockSize: blockSize, kvTypes: KVCacheTypes(type))
        }
    }

    private func checkHitGivesColdResults(_ loaded: LoadedModel, blockSize: Int, kvTypes: KVCacheTypes) throws {
        let vocabulary = loaded.model.vocabularySize
        let first = Array(0..<40).map { ($0 * 7 + 3) % vocabulary }
        let second = Array(first[0..<36]) + [5, 6, 7]

        let cold = try SchedulerHarness(loaded, blockSize: blockSize, kvTypes: kvTypes)
        let coldId = try cold.submit(second)
        cold.runUntilIdle()
        #expect(cold.run(coldId).cached == 0)

        let warm = try SchedulerHarness(loaded, blockSize: blockSize, kvTypes: kvTypes)
        try warm.submit(first)
        warm.runUntilIdle()
        let warmId = try warm.submit(second)
        warm.runUntilIdle()
        // Full blocks of the shared 36 tokens (window blocks cached too for Loop).
        let shared = 36 / blockSize * blockSize
        #expect(warm.run(warmId).cached == shared)
        #expect(warm.run(warmId).ids == cold.run(coldId).ids)
        #expect(warm.run(warmId).logprobBits == cold.run(coldId).logprobBits)
        #expect(warm.scheduler.snapshot.cachedPromptTokens == shared)
        #expect(warm.scheduler.snapshot.blocksUsed == 0)
        #expect(warm.scheduler.snapshot.blocksCached > 0)
    }

    /// The same prompt again reuses everything but its last token (which must run for logits).
    @Test func identicalPromptKeepsOneTokenToCompute() throws {
        let loaded = try SchedulerFixtures.tiny()
        let prompt = Array(0..<32).map { ($0 * 5 + 1) % 300 }
        let harness = try SchedulerHarness(loaded, blockSize: 16)
        let a = try harness.submit(prompt)
        harness.runUntilIdle()
        let b = try harness.submit(prompt)
        harness.runUntilIdle()
        #expect(harness.run(b).cached == 16)
        #expect(harness.run(a).ids == harness.run(b).ids)
    }

    /// Cached blocks are evicted (oldest first) when fresh ones are needed, and nothing leaks.
    @Test func evictionUnderPressure() throws {
        let loaded = try SchedulerFixtures.tiny()
        let harness = try SchedulerHarness(loaded, blocks: 12, blockSize: 4)
        for round in 0..<6 {
            let prompt = Array(0..<20).map { ($0 * 3 + round * 11) % 300 }
            try harness.submit(prompt, maxTokens: 6)
            harness.runUntilIdle()
        }
        let s = harness.scheduler.snapshot
        #expect(s.blocksUsed == 0)
        #expect(s.blocksCached <= 12)
        #expect(harness.runs.values.allSatisfy { $0.ids.count == 6 && $0.failure == nil })
    }
}

@Suite("Batch scheduler: admission, chunking, join/leave, preemption, queue")
struct SchedulingTests {
    /// Budget 8, two slots: prompt chunks fill the budget left by decode rows; a third request
    /// joins when the first leaves.
    @Test func stepsFollowTheBudget() throws {
        let harness = try SchedulerHarness(try SchedulerFixtures.tiny(), maxRunning: 2, maxBatchTokens: 8)
        let a = try harness.submit(Array(1...10), maxTokens: 2, logprobs: false)
        let b = try harness.submit(Array(21...25), maxTokens: 3, logprobs: false)
        let c = try harness.submit(Array(31...33), maxTokens: 1, logprobs: false)
        var steps: [StepSummary] = []
        while !harness.scheduler.isIdle {
            harness.scheduler.step()
            harness.checkAccounting()
            steps.append(harness.scheduler.lastStep)
        }
        func s(_ decoded: [Int], _ prefilled: [(Int, Int)]) -> StepSummary {
            var summary = StepSummary()
            summary.decoded = decoded
            summary.prefilled = prefilled.map { (id: $0.0, tokens: $0.1) }
            return summary
        }
        let expected = [
            s([], [(a, 8)]),            // a's first 8 prompt tokens; b admitted but no budget left
            s([], [(a, 2), (b, 5)]),    // a's last 2 (first token sampled), b's whole prompt
            s([a, b], []),              // a's second token: a is done and leaves
            s([b], [(c, 3)]),           // c joins in a's slot; b's third token and c's only one end both
        ]
        #expect(steps == expected)
        #expect(harness.run(a).ids.count == 2 && harness.run(b).ids.count == 3 && harness.run(c).ids.count == 1)
    }

    /// A pool too small for every request's growth preempts the newest; all still finish with
    /// their full length and the pool ends empty.
    @Test func preemptionRecomputes() throws {
        let harness = try SchedulerHarness(try SchedulerFixtures.tiny(), blocks: 10, blockSize: 4, maxBatchTokens: 64)
        let ids = try (0..<3).map { k in try harness.submit(Array(0..<10).map { ($0 + 37 * k) % 300 }, maxTokens: 12) }
        var preempted = 0
        while !harness.scheduler.isIdle {
            harness.scheduler.step()
            harness.checkAccounting()
            preempted += harness.scheduler.lastStep.preempted.count
        }
        #expect(preempted > 0)
        for id in ids {
            #expect(harness.run(id).ids.count == 12)
            #expect(harness.run(id).finish == .length)
        }
        #expect(harness.scheduler.snapshot.blocksUsed == 0)
        #expect(harness.scheduler.snapshot.preemptions == preempted)
    }

    /// A request that outgrows the whole pool is preempted, cannot come back, and ends with
    /// finish reason length and the tokens it made, instead of waiting forever.
    @Test func requestOutgrowingThePoolEndsWithLength() throws {
        let harness = try SchedulerHarness(try SchedulerFixtures.tiny(), blocks: 4, blockSize: 4)
        let id = try harness.submit(Array(1...10), maxTokens: 20, logprobs: false)
        harness.runUntilIdle(maxSteps: 200)
        let run = harness.run(id)
        #expect(run.finish == .length)
        #expect(run.ids.count >= 6 && run.ids.count < 20, "\(run.ids.count) tokens")
        #expect(harness.scheduler.snapshot.blocksUsed == 0)
    }

    @Test func queueLimitRefusesAndRecovers() throws {
        let harness = try SchedulerHarness(try SchedulerFixtures.tiny(), maxRunning: 1, maxWaiting: 2)
        for _ in 0..<2 { try harness.submit([1, 2, 3], maxTokens: 2) }
        #expect(throws: SubmitError.queueFull(waiting: 2)) { try harness.submit([1, 2, 3]) }
        harness.runUntilIdle()
        let again = try harness.submit([1, 2, 3], maxTokens: 2)
        harness.runUntilIdle()
        #expect(harness.run(again).ids.count == 2)
    }

    @Test func impossibleRequestsAreRefusedUpFront() throws {
        let loaded = try SchedulerFixtures.tiny()
        let harness = try SchedulerHarness(loaded, blocks: 2, blockSize: 4)
        #expect(throws: SubmitError.self) { try harness.submit(Array(0..<20)) }           // needs 6 blocks
        #expect(throws: SubmitError.self) { try harness.submit([]) }                        // empty prompt
        #expect(throws: SubmitError.self) { try harness.submit([400]) }                     // outside the vocabulary
        #expect(throws: SubmitError.self) { try harness.submit(Array(repeating: 1, count: 300)) }  // past the context
        #expect(harness.scheduler.isIdle)
    }

    /// Random submissions and cancellations (waiting or running) over a small pool with shared
    /// prefixes: accounting holds after every step and the pool drains to zero.
    @Test(arguments: [UInt64(1), 2, 3])
    func randomCancellationsNeverLeak(seed: UInt64) throws {
        var rng = Xoshiro256StarStar(seed: seed)
        let harness = try SchedulerHarness(try SchedulerFixtures.tiny(), blocks: 24, blockSize: 4, maxRunning: 4, maxBatchTokens: 12)
        let shared = Array(0..<12).map { ($0 * 13 + 5) % 300 }
        var live: [Int] = []
        for _ in 0..<120 {
            if rng.next() % 3 == 0, live.count < 10 {
                let tail = (0..<Int(rng.next() % 9)).map { _ in Int(rng.next() % 300) }
                let prompt = (rng.next() % 2 == 0 ? shared : []) + tail + [Int(rng.next() % 300)]
                if let id = try? harness.submit(prompt, maxTokens: 1 + Int(rng.next() % 10), logprobs: false) { live.append(id) }
            }
            if rng.next() % 5 == 0, let victim = live.randomElement(using: &rng) { harness.cancelled.insert(victim) }
            harness.scheduler.step()
            harness.checkAccounting()
            live.removeAll { harness.run($0).finish != nil || harness.run($0).failure != nil }
        }
        harness.runUntilIdle()
        let s = harness.scheduler.snapshot
        #expect(s.blocksUsed == 0)
        #expect(s.holdsByBlocks == 0)
        #expect(harness.runs.values.allSatisfy { $0.failure == nil && $0.finish != nil })
        #expect(harness.runs.values.contains { $0.finish == .cancelled })
    }
}
