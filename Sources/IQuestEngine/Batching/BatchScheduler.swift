import Foundation
import IQuestKernels
import IQuestModels
import IQuestTokenizer

/// Limits of the continuous-batching scheduler.
public struct SchedulerConfiguration: Sendable {
    /// Sequences in one step (decoding or prefilling).
    public var maxRunning: Int
    /// Tokens in one step: every decoding sequence's one token, then prompt chunks up to this.
    /// A long prompt is split over steps, so decoding sequences never wait for a whole prompt.
    public var maxBatchTokens: Int
    /// Requests waiting for a slot before `submit` refuses more.
    public var maxWaiting: Int
    /// Tokens one sequence may hold (prompt + generated).
    public var contextLength: Int
    /// Decode rows (one per decoding sequence plus drafted tokens) past which a step drafts
    /// nothing more: with that many rows the decode kernels already share each weight read
    /// among enough tokens that verifying drafts costs about what it yields.
    public var draftRowLimit: Int
    /// Speculative decoding for requests that do not choose (`GenerationRequest.speculative` nil).
    public var speculative: SpeculativeOptions

    public init(maxRunning: Int = 16, maxBatchTokens: Int = 512, maxWaiting: Int = 128, contextLength: Int,
                draftRowLimit: Int = 16, speculative: SpeculativeOptions = .off) {
        self.speculative = speculative
        self.maxRunning = max(1, maxRunning)
        self.maxBatchTokens = max(1, maxBatchTokens)
        self.maxWaiting = max(0, maxWaiting)
        self.contextLength = contextLength
        self.draftRowLimit = max(0, draftRowLimit)
    }
}

/// What happens to a submitted request, in order: `started` once (when it gets a slot), then
/// `token`s, then `finished`, or `failed` at any point.
public enum SequenceEvent: Sendable {
    /// The request got a slot; `cachedTokens` of its prompt came from the prefix cache.
    case started(cachedTokens: Int)
    case token(GeneratedToken)
    case finished(GenerationStats)
    case failed(String)
}

/// Why `submit` refused a request.
public enum SubmitError: Error, Equatable, CustomStringConvertible {
    /// The waiting queue is full; try again later.
    case queueFull(waiting: Int)
    /// The request can never run (bad parameters, prompt too long for the context or the pool).
    case invalid(String)

    public var description: String {
        switch self {
        case .queueFull(let waiting): return "the server is busy: \(waiting) requests are already waiting"
        case .invalid(let message): return message
        }
    }
}

/// What one step ran (for tests and metrics).
public struct StepSummary: Sendable, Equatable {
    /// Request ids that decoded one token.
    public var decoded: [Int] = []
    /// Request ids and prompt tokens computed for each.
    public var prefilled: [(id: Int, tokens: Int)] = []
    /// Request ids preempted to make room (they wait again and recompute).
    public var preempted: [Int] = []
    /// Drafted tokens scored for verification (extra decode rows).
    public var drafted = 0

    public init() {}

    public var tokens: Int { decoded.count + drafted + prefilled.reduce(0) { $0 + $1.tokens } }
    public var sequences: Int { decoded.count + prefilled.count }

    public static func == (a: StepSummary, b: StepSummary) -> Bool {
        a.decoded == b.decoded && a.preempted == b.preempted
            && a.prefilled.map(\.id) == b.prefilled.map(\.id) && a.prefilled.map(\.tokens) == b.prefilled.map(\.tokens)
    }
}

/// Counters the server exports.
public struct SchedulerSnapshot: Sendable {
    public var running = 0
    public var waiting = 0
    public var blocksUsed = 0
    public var blocksCached = 0
    public var blocksTotal = 0
    public var blocksFree = 0
    /// Holds on blocks summed over blocks (the manager's view) and over sequences' tables (the
    /// sequences' view); equal unless something leaked.
    public var holdsByBlocks = 0
    public var holdsBySequences = 0
    public var blockSize = 0
    /// Prompt tokens admitted and how many of them the prefix cache supplied.
    public var promptTokens = 0
    public var cachedPromptTokens = 0
    public var preemptions = 0
    public var steps = 0
    public var lastStepSequences = 0
    public var lastStepTokens = 0
    /// Sums over all steps (mean batch size = stepSequencesTotal / steps).
    public var stepSequencesTotal = 0
    public var stepTokensTotal = 0
    /// Speculative decoding: tokens drafted and accepted; decode sequence-steps and the tokens
    /// they yielded (tokens per forward = decodeTokens / decodeSteps, 1 without drafts).
    public var draftedTokens = 0
    public var acceptedTokens = 0
    /// Tokens of constraints' forced runs fed as drafts, and those the model confirmed (each a
    /// forward saved).
    public var forcedTokens = 0
    public var forcedAccepted = 0
    public var decodeSteps = 0
    public var decodeTokens = 0

    public init() {}

    public var acceptanceRate: Double { draftedTokens == 0 ? 0 : Double(acceptedTokens) / Double(draftedTokens) }
    public var tokensPerForward: Double { decodeSteps == 0 ? 0 : Double(decodeTokens) / Double(decodeSteps) }

    public var prefixHitRate: Double { promptTokens == 0 ? 0 : Double(cachedPromptTokens) / Double(promptTokens) }
}

/// Continuous batching over one model: requests join and leave between steps, each step is one
/// forward over every decoding sequence's next token plus chunks of waiting prompts, keys and
/// values live in a shared pool of blocks with a prefix cache. Not thread-safe: one owner calls
/// `submit` and `step` (the engine thread).
///
/// Memory pressure: a sequence is admitted only when the pool can take the rest of its prompt
/// (reserved on admission);
/// when decoding later needs a block and none is left, the most recently admitted sequence is
/// preempted (its blocks released, its prompt and generated tokens recomputed as a prompt when
/// it is admitted again), so a running request is never corrupted. Its continuation is then
/// computed from recomputed keys/values (prompt kernels), which can differ in the last bits
/// from the decode kernels that produced them first.
public final class BatchScheduler {
    public let configuration: SchedulerConfiguration
    public let model: any LanguageModel
    public let kv: KVBlockPool
    let manager: BlockManager
    private let tokenizer: any Tokenizer
    private let stopTokenIds: Set<Int>

    private final class Sequence {
        let id: Int
        var state: GenerationState
        let isCancelled: () -> Bool
        let onEvent: (SequenceEvent) -> Void
        /// Prompt and generated ids; the last may not be in the blocks yet.
        var tokens: [Int]
        let blocks: SequenceBlocks
        /// The next step feeds one sampled token through the decode kernels.
        var decoding = false
        var drafter: SpeculativeDrafter
        /// The draft model's side of this request (draft mode), made at its first decode step.
        var runner: DraftModelRunner?
        var started = false
        var admittedAt = Date()
        var firstTokenAt: Date?

        init(id: Int, state: GenerationState, isCancelled: @escaping () -> Bool, onEvent: @escaping (SequenceEvent) -> Void,
             blocks: SequenceBlocks, speculative: SpeculativeOptions) {
            self.id = id
            self.state = state
            self.isCancelled = isCancelled
            self.onEvent = onEvent
            tokens = state.request.promptIds
            self.blocks = blocks
            drafter = SpeculativeDrafter(options: state.request.speculative ?? speculative)
        }
    }

    private var waiting: [Sequence] = []
    private var running: [Sequence] = []
    private var nextId = 0
    private var counters = SchedulerSnapshot()
    /// Decode step times, from which drafting learns what a verify row costs.
    private var rowCosts = RowCostEstimator()
    /// Drafts for `SpeculativeMode.draft` requests (same tokenizer, checked by the caller with
    /// `DraftModelCheck`); nil: such requests are refused at submit.
    private let draftModel: (any LanguageModel)?
    /// What one token drafted by `draftModel` costs, in one-row target steps (measured).
    private var draftTokenCost = 0.0
    public private(set) var lastStep = StepSummary()

    /// - Parameter blocks: blocks in the shared pool (`KVLayout.bytesPerBlock` each).
    /// - Parameter kvTypes: how keys and values are stored (exact f32 unless asked; the server
    ///   passes its `KVCachePlan`'s types). Throws when they cannot hold the model's heads.
    public init(model: any LanguageModel, tokenizer: any Tokenizer, stopTokenIds: Set<Int>, blocks: Int,
                blockSize: Int = KVBlockPool.defaultBlockSize, kvTypes: KVCacheTypes = .f32,
                configuration: SchedulerConfiguration, draftModel: (any LanguageModel)? = nil) throws {
        if let reason = kvTypes.refusal(headDim: model.kvLayout.headDim) { throw GenerationError(reason) }
        try configuration.speculative.validate()
        if configuration.speculative.mode == .draft && draftModel == nil {
            throw GenerationError("speculative mode 'draft' needs a draft model (--model-draft PATH)")
        }
        if let draftModel, draftModel.vocabularySize != model.vocabularySize {
            throw GenerationError("the draft model's vocabulary (\(draftModel.vocabularySize) ids) differs from the target's (\(model.vocabularySize))")
        }
        self.draftModel = draftModel
        self.model = model
        self.tokenizer = tokenizer
        self.stopTokenIds = stopTokenIds
        self.configuration = configuration
        kv = KVBlockPool(layout: model.kvLayout, blockCount: blocks, blockSize: blockSize, types: kvTypes)
        manager = BlockManager(blockCount: blocks, blockSize: blockSize)
    }

    public var isIdle: Bool { waiting.isEmpty && running.isEmpty }

    public var snapshot: SchedulerSnapshot {
        var s = counters
        s.running = running.count
        s.waiting = waiting.count
        s.blocksUsed = manager.usedBlocks
        s.blocksCached = manager.cachedBlocks
        s.blocksTotal = manager.blockCount
        s.blocksFree = manager.freeBlocks
        s.holdsByBlocks = manager.totalHolds
        s.holdsBySequences = (running + waiting).reduce(0) { $0 + $1.blocks.heldBlocks }
        s.blockSize = manager.blockSize
        return s
    }

    /// Queues a request; `onEvent` is called from `step` (on the caller's thread). Throws when the
    /// queue is full or the request can never run.
    @discardableResult
    public func submit(_ request: GenerationRequest, isCancelled: @escaping () -> Bool = { false },
                       onEvent: @escaping (SequenceEvent) -> Void) throws -> Int {
        let state: GenerationState
        do {
            state = try GenerationState(request: request, tokenizer: tokenizer, stopTokenIds: stopTokenIds,
                                        vocabularySize: model.vocabularySize, contextLength: configuration.contextLength)
        } catch {
            throw SubmitError.invalid("\(error)")
        }
        if (request.speculative ?? configuration.speculative).mode == .draft && draftModel == nil {
            throw SubmitError.invalid("speculative mode 'draft' needs a draft model, which this server does not run (serve --model-draft PATH); use ngram or off")
        }
        let probe = SequenceBlocks(manager: manager, window: model.kvLayout.localWindow)
        let needed = probe.blocksNeeded(through: request.promptIds.count + 1)
        guard needed <= manager.blockCount else {
            throw SubmitError.invalid("the prompt needs \(needed) KV blocks but the cache has \(manager.blockCount); shorten it or give the KV cache more memory")
        }
        guard waiting.count < configuration.maxWaiting else { throw SubmitError.queueFull(waiting: waiting.count) }
        let id = nextId
        nextId += 1
        waiting.append(Sequence(id: id, state: state, isCancelled: isCancelled, onEvent: onEvent, blocks: probe,
                                speculative: configuration.speculative))
        return id
    }

    /// One step: drop cancelled requests, admit waiting ones, run one forward, sample and stream.
    /// Does nothing when idle. A model error fails the requests of that step and leaves the
    /// scheduler usable.
    public func step() {
        reapCancelled()
        admit()
        var summary = StepSummary()
        let plan = planStep(&summary)
        lastStep = summary
        guard !plan.isEmpty else { return }
        let batch = plan.map { $0.sequence.blocks.entry(tokens: $0.sequence.tokens + $0.draft, end: $0.end, phase: $0.phase, logits: $0.logits) }
        let logits: [Logits?]
        let forwardStart = Date()
        do {
            logits = try model.forward(batch: batch, kv: kv)
        } catch {
            for item in plan { fail(item.sequence, "\(error)") }
            return
        }
        // Only pure decode steps measure the price of a row; prompt chunks cost otherwise.
        if summary.prefilled.isEmpty {
            rowCosts.record(rows: summary.decoded.count + summary.drafted, seconds: Date().timeIntervalSince(forwardStart))
        }
        counters.steps += 1
        counters.lastStepSequences = summary.sequences
        counters.lastStepTokens = summary.tokens
        counters.stepSequencesTotal += summary.sequences
        counters.stepTokensTotal += summary.tokens
        let now = Date()
        for (item, rowLogits) in zip(plan, logits) {
            let sequence = item.sequence
            if !item.draft.isEmpty, let rowLogits {
                settleVerification(item, logits: rowLogits)
                continue
            }
            sequence.blocks.commit(through: item.end, tokens: sequence.tokens, asPrompt: item.phase == .prompt)
            // A decode row whose draft was dropped for lack of blocks may hold some reserved for it.
            if item.phase == .decode { sequence.blocks.dropBlocksPastCount() }
            guard let rowLogits else { continue }
            if sequence.firstTokenAt == nil {
                sequence.firstTokenAt = now
                sequence.state.addPrefillTime(now.timeIntervalSince(sequence.admittedAt))
            }
            if sequence.state.wantsNoTokens {
                finish(sequence)
                continue
            }
            let (token, done) = sequence.state.next(from: rowLogits.row(rowLogits.rows - 1))
            if item.phase == .decode {
                counters.decodeSteps += 1
                counters.decodeTokens += 1
            }
            sequence.onEvent(.token(token))
            if done {
                finish(sequence)
            } else {
                sequence.tokens.append(token.id)
                sequence.decoding = true
            }
        }
    }

    /// Runs steps until every request is done (tests, offline use).
    public func runUntilIdle() {
        while !isIdle { step() }
    }

    /// After a step that scored `item`'s fed token and drafts: the tokens its own draws give
    /// (`GenerationState.verify`), the accepted rows committed and the rejected ones' blocks
    /// given back, so the sequence is as if it had decoded those tokens one step at a time.
    private func settleVerification(_ item: Planned, logits: Logits) {
        let sequence = item.sequence
        let (tokens, accepted, done) = item.distributions.isEmpty ? sequence.state.verify(logits, draft: item.draft, forced: item.forced)
            : sequence.state.verify(logits, draft: item.draft, draftDistributions: item.distributions)
        if item.forced {
            counters.forcedTokens += item.draft.count
            counters.forcedAccepted += accepted
        } else {
            sequence.drafter.record(drafted: item.draft.count, accepted: accepted)
            // The draft model keeps the tokens it drafted that were accepted, forgets the rest.
            sequence.runner?.keep(sequence.tokens.count + accepted)
            counters.draftedTokens += item.draft.count
            counters.acceptedTokens += accepted
        }
        counters.decodeSteps += 1
        counters.decodeTokens += tokens.count
        sequence.blocks.commit(through: sequence.blocks.count + 1 + accepted, tokens: sequence.tokens, asPrompt: false)
        sequence.blocks.dropBlocksPastCount()
        for token in tokens { sequence.onEvent(.token(token)) }
        if done {
            finish(sequence)
        } else {
            sequence.tokens += tokens.map(\.id)
        }
    }

    // MARK: steps

    private struct Planned {
        let sequence: Sequence
        let end: Int
        let phase: BatchPhase
        let logits: LogitsSelection?
        /// Tokens drafted after the sequence's last one, scored in this step for verification.
        var draft: [Int] = []
        /// The draft model's distribution for each drafted token (draft mode; else empty).
        var distributions: [[(id: Int, probability: Double)]] = []
        /// The draft is the constraint's forced run, not a speculative one.
        var forced = false
    }

    private func reapCancelled() {
        for sequence in running + waiting where sequence.isCancelled() {
            sequence.state.cancel()
            finish(sequence)
        }
    }

    /// Moves waiting requests to running, first come first served, while there is a slot and the
    /// pool can hold the rest of the prompt (after the prefix cache's share); those blocks are
    /// taken at once, so prompts admitted together never overcommit the pool.
    private func admit() {
        while running.count < configuration.maxRunning, let sequence = waiting.first {
            let blocks = sequence.blocks
            // Grown past what the whole pool holds (a preempted request that kept decoding
            // alone): it can never run again, so it ends here with what it generated.
            if blocks.count == 0, blocks.blocksNeeded(through: sequence.tokens.count) > manager.blockCount {
                sequence.state.stopForLength()
                finish(sequence)
                continue
            }
            var cached = 0
            if blocks.count == 0 { cached = blocks.adoptCachedPrefix(of: sequence.tokens) }
            let needed = blocks.blocksNeeded(through: sequence.tokens.count)
            guard needed <= manager.availableBlocks, blocks.reserve(through: sequence.tokens.count) else {
                blocks.releaseAll()
                return
            }
            waiting.removeFirst()
            running.append(sequence)
            sequence.admittedAt = Date()
            if !sequence.started {
                sequence.started = true
                counters.promptTokens += sequence.tokens.count
                counters.cachedPromptTokens += cached
                sequence.state.setCachedPromptTokens(cached)
                sequence.onEvent(.started(cachedTokens: cached))
            }
        }
    }

    /// Decoding sequences first (one token each), then prompt chunks in admission order within
    /// the token budget; blocks are reserved for all of them, preempting the newest sequences
    /// when the pool runs dry.
    private func planStep(_ summary: inout StepSummary) -> [Planned] {
        var plan: [Planned] = []
        var budget = configuration.maxBatchTokens
        let decoding = running.filter(\.decoding)
        // Drafts fill the decode rows up to the limit, first come first served; a step already
        // that wide drafts nothing (the machine is saturated).
        var draftRows = max(0, min(configuration.draftRowLimit, budget) - decoding.count)
        // A draft row's price relative to this step's average token (→ 1 as the batch widens).
        let rowCost = rowCosts.rowCost(decoding: decoding.count)
        for sequence in decoding {
            var draft: [Int] = []
            var distributions: [[(id: Int, probability: Double)]] = []
            if sequence.drafter.isOn {
                sequence.drafter.rowCost = rowCost
                let room = min(draftRows, sequence.state.draftRoom(positions: sequence.tokens.count))
                if sequence.drafter.options.mode == .draft {
                    sequence.drafter.rowCost = rowCost + draftTokenCost
                    (draft, distributions) = modelDraft(for: sequence, count: sequence.drafter.length(room: room))
                } else {
                    draft = sequence.drafter.propose(after: sequence.tokens, room: room)
                }
                draftRows -= draft.count
            }
            // A constraint's forced run rides the same rows when nothing was drafted (draft-model
            // requests excepted: their runner follows only its own drafts).
            var forced = false
            if draft.isEmpty, sequence.drafter.options.mode != .draft {
                draft = sequence.state.forcedDraft(limit: draftRows, positions: sequence.tokens.count, rowCost: rowCost)
                forced = !draft.isEmpty
                draftRows -= draft.count
            }
            plan.append(Planned(sequence: sequence, end: sequence.blocks.count + 1 + draft.count, phase: .decode,
                                logits: draft.isEmpty ? .last : .all, draft: draft, distributions: distributions, forced: forced))
            budget -= 1 + draft.count
        }
        for sequence in running where !sequence.decoding && budget > 0 {
            let remaining = sequence.tokens.count - sequence.blocks.count
            let chunk = min(remaining, budget)
            let end = sequence.blocks.count + chunk
            plan.append(Planned(sequence: sequence, end: end, phase: .prompt, logits: end == sequence.tokens.count ? .last : nil))
            budget -= chunk
        }
        var index = 0
        while index < plan.count {
            let item = plan[index]
            if item.sequence.blocks.reserve(through: item.end) {
                index += 1
                continue
            }
            // Drafts are the first thing to give up when blocks run short.
            if !item.draft.isEmpty {
                item.sequence.runner?.keep(item.sequence.tokens.count)
                plan[index] = Planned(sequence: item.sequence, end: item.sequence.blocks.count + 1, phase: .decode, logits: .last)
                continue
            }
            // Out of blocks: preempt the most recently admitted other sequence, or this one.
            let victim = running.last { $0 !== item.sequence } ?? item.sequence
            preempt(victim)
            summary.preempted.append(victim.id)
            if let at = plan.firstIndex(where: { $0.sequence === victim }) {
                plan.remove(at: at)
                if at < index { index -= 1 }
            }
        }
        for item in plan {
            if item.phase == .decode {
                summary.decoded.append(item.sequence.id)
                summary.drafted += item.draft.count
            } else {
                summary.prefilled.append((item.sequence.id, item.end - item.sequence.blocks.count))
            }
        }
        return plan
    }

    /// `count` tokens from the draft model continuing `sequence` (none when it fails: drafts
    /// are an optimisation, so an error there costs speed, not the request).
    private func modelDraft(for sequence: Sequence, count: Int) -> ([Int], [[(id: Int, probability: Double)]]) {
        guard count > 0, let draftModel else { return ([], []) }
        do {
            if sequence.runner == nil {
                let request = sequence.state.request
                let capacity = min(configuration.contextLength, request.promptIds.count + min(request.maxTokens, configuration.contextLength))
                    + SpeculativeOptions.draftLimit + 1
                sequence.runner = try DraftModelRunner(model: draftModel, sampling: request.sampling, capacity: capacity)
            }
            guard let runner = sequence.runner else { return ([], []) }
            let start = Date()
            let (draft, distributions) = try runner.draft(after: sequence.tokens, count: count)
            // The draft model's forwards are part of a drafted token's price, in target steps.
            if !draft.isEmpty, let step = rowCosts.oneRowSeconds {
                let perToken = Date().timeIntervalSince(start) / Double(draft.count) / step
                draftTokenCost = draftTokenCost == 0 ? perToken : 0.8 * draftTokenCost + 0.2 * perToken
            }
            return (draft, distributions)
        } catch {
            sequence.runner = nil
            return ([], [])
        }
    }

    private func preempt(_ sequence: Sequence) {
        sequence.blocks.releaseAll()
        sequence.decoding = false
        running.removeAll { $0 === sequence }
        waiting.insert(sequence, at: 0)
        counters.preemptions += 1
    }

    private func finish(_ sequence: Sequence) {
        sequence.blocks.releaseAll()
        sequence.runner = nil
        running.removeAll { $0 === sequence }
        waiting.removeAll { $0 === sequence }
        if let first = sequence.firstTokenAt { sequence.state.addDecodeTime(Date().timeIntervalSince(first)) }
        sequence.onEvent(.finished(sequence.state.stats))
    }

    private func fail(_ sequence: Sequence, _ message: String) {
        sequence.blocks.releaseAll()
        sequence.runner = nil
        running.removeAll { $0 === sequence }
        waiting.removeAll { $0 === sequence }
        sequence.onEvent(.failed(message))
    }
}
