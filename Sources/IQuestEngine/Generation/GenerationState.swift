import IQuestModels
import IQuestTokenizer

/// What one request does with each set of next-token logits: sample, detokenize, watch for stop
/// ids, stop strings, max tokens and the context end. Shared by `Generator` (one request) and
/// `BatchScheduler` (many), so both stop and stream text the same way.
struct GenerationState {
    let request: GenerationRequest
    let stopTokenIds: Set<Int>
    let contextLength: Int
    private var sampler: Sampler
    private var detokenizer: StreamingDetokenizer
    private var stopMatcher: StopStringMatcher
    /// Prompt and generated ids so far (repetition penalties read it).
    private(set) var history: [Int]
    private(set) var stats = GenerationStats()
    private var constraint: ConstraintRun?
    /// Splits a constraint's forced runs into tokens.
    private let tokenizer: any Tokenizer
    /// How many forced tokens to feed, learnt from how many the model confirmed.
    private var forcedLength = DraftLengthController()
    /// [vocab] logits after logit_bias and the constraint's mask (only when either is in use).
    private var edited: [Float] = []

    /// Checks the request against the model; throws a message naming the problem.
    init(request: GenerationRequest, tokenizer: any Tokenizer, stopTokenIds: Set<Int>, vocabularySize: Int,
         contextLength: Int) throws {
        try request.sampling.validate()
        try request.speculative?.validate()
        let prompt = request.promptIds
        guard !prompt.isEmpty else { throw GenerationError("the prompt is empty") }
        guard prompt.count < contextLength else {
            throw GenerationError("the prompt has \(prompt.count) tokens but the context holds \(contextLength); shorten it or raise the context size")
        }
        for id in prompt where id < 0 || id >= vocabularySize {
            throw GenerationError("prompt token id \(id) is outside the vocabulary (0..<\(vocabularySize))")
        }
        guard request.maxTokens >= 0 else { throw GenerationError("max tokens must not be negative") }
        self.request = request
        self.stopTokenIds = stopTokenIds
        self.contextLength = contextLength
        self.tokenizer = tokenizer
        sampler = Sampler(parameters: request.sampling)
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer, previousToken: prompt.last)
        stopMatcher = StopStringMatcher(stops: request.stopStrings)
        for id in request.logitBias.keys where id < 0 || id >= vocabularySize {
            throw GenerationError("logit_bias names token id \(id), outside the vocabulary (0..<\(vocabularySize))")
        }
        constraint = try request.constraint.map { try ConstraintRun($0) }
        history = prompt
        stats.promptTokens = prompt.count
        stats.finishReason = .length
    }

    /// True when nothing is to be generated at all (max tokens 0).
    var wantsNoTokens: Bool { request.maxTokens == 0 }

    /// The constraint's forced run after the last emitted token: tokens the grammar leaves no
    /// choice about (split as the longest vocabulary tokens), at most `limit` and within
    /// `draftRoom`. A step verifies them like drafts, so they cost one forward together instead
    /// of one each, and the output stays exactly what token-by-token decoding gives: each is kept
    /// only while the model's own (masked) choice equals it.
    /// How long a forced run is fed is chosen like a speculative draft's length, from how often
    /// the model confirmed this request's forced tokens and what a row costs (`rowCost`: T(2)/T(1)
    /// − 1, measured by the caller): the model often splits a forced key differently (its masked
    /// choice is not always the tokenizer's split), and a refused token's row is paid for nothing.
    mutating func forcedDraft(limit: Int, positions: Int, rowCost: Double) -> [Int] {
        guard let constraint, request.forcedRuns != .off, constraint.active else { return [] }
        var length = min(limit, draftRoom(positions: positions))
        if request.forcedRuns == .adaptive {
            // Decided before the run is looked for, so a step that would feed nothing does not
            // walk the grammar and tokenize for it.
            forcedLength.rowCost = rowCost
            length = forcedLength.length(maximum: length)
            if length == 0 {
                forcedLength.idle()
                return []
            }
        }
        return constraint.forcedTokens(limit: length, tokenizer: tokenizer)
    }

    /// Most tokens a step may draft now: every drafted token must be one the request could still
    /// emit after the step's first (max tokens), and every row must fit the context.
    /// `positions`: tokens the sequence holds with its last sampled one (the step's first row).
    func draftRoom(positions: Int) -> Int {
        max(0, min(request.maxTokens - stats.generatedTokens - 1, contextLength - positions))
    }

    /// Samples the next token from `logits` (one row). Returns the token to stream and whether
    /// generation ends with it (then `stats.finishReason` says why). `positions` is how many
    /// tokens the sequence holds once this token is fed back (for the context limit).
    mutating func next(from logits: ArraySlice<Float>) -> (token: GeneratedToken, done: Bool) {
        stats.forwards += 1
        return emit(from: logits)
    }

    /// Speculative verification: `logits` rows `firstRow` … `firstRow + draft.count` score the
    /// fed token and then each drafted token. Samples row 0 exactly as `next` would; while the
    /// draw equals the draft token that row was fed with the next row is valid too, so it samples
    /// that one, and so on; stops at the first draw that differs (that draw is the correction),
    /// after the last row (the bonus token), or when generation ends. Every emitted token is the
    /// one plain decoding would sample: each comes from its own position's logits (bitwise those
    /// of a one-token step) with the same history, and the seeded generator advances once per
    /// emitted token, exactly as it does without drafts, since rejected rows are never sampled.
    /// So the output is identical to non-speculative sampling with the same seed, whatever the
    /// drafts (the exact rule for deterministic drafts: accept while the target's own draw equals
    /// the draft). Returns the tokens to stream, how many drafts were accepted, and whether
    /// generation ended.
    /// `forced`: the draft is the constraint's forced run (`forcedDraft`), counted apart from
    /// speculative drafts.
    mutating func verify(_ logits: Logits, firstRow: Int = 0, draft: [Int], forced: Bool = false)
        -> (tokens: [GeneratedToken], accepted: Int, done: Bool) {
        stats.forwards += 1
        if forced { stats.forcedTokens += draft.count } else { stats.draftedTokens += draft.count }
        var tokens: [GeneratedToken] = []
        for i in 0...draft.count {
            let (token, done) = emit(from: logits.row(firstRow + i))
            tokens.append(token)
            if done || i == draft.count || token.id != draft[i] {
                if forced {
                    stats.forcedAccepted += i
                    forcedLength.record(drafted: draft.count, accepted: i)
                } else {
                    stats.acceptedTokens += i
                }
                return (tokens, i, done)
            }
        }
        return (tokens, draft.count, false)  // not reached: the loop returns at i == draft.count
    }

    /// Verification against a draft model: draft token i was drawn from `draftDistributions[i]`
    /// (q). Row i's target distribution p (after penalties, filters, temperature, any mask in the
    /// logits) accepts it with probability min(1, p(x)/q(x)); the first rejection is replaced by
    /// a draw from max(0, p − q) normalised, and generation goes on from there; when all are
    /// accepted the last row gives a bonus token. Each emitted token is then distributed exactly
    /// as p (the speculative sampling theorem); the seeded generator is the target's own, so a
    /// seed still fixes the output, though not to plain decoding's sequence (the draws differ).
    mutating func verify(_ logits: Logits, draft: [Int], draftDistributions q: [[(id: Int, probability: Double)]])
        -> (tokens: [GeneratedToken], accepted: Int, done: Bool) {
        stats.forwards += 1
        stats.draftedTokens += draft.count
        var tokens: [GeneratedToken] = []
        for i in 0..<draft.count {
            let row = logits.row(i)
            // p is the final distribution: logit_bias and the constraint's mask included.
            let p = editedRow(row) != nil ? edited.withUnsafeBufferPointer { sampler.distribution(logits: $0, history: history) }
                                          : row.withUnsafeBufferPointer { sampler.distribution(logits: $0, history: history) }
            let x = draft[i]
            let px = p.first { $0.id == x }?.probability ?? 0
            let qx = q[i].first { $0.id == x }?.probability ?? 0
            let u = sampler.nextUnit()
            let id: Int
            if qx > 0 && u < min(1, px / qx) {
                id = x
            } else {
                id = Self.residualDraw(p: p, q: q[i], u: sampler.nextUnit())
            }
            let (token, done) = emit(id: id, logits: row)
            tokens.append(token)
            if done || id != x {
                stats.acceptedTokens += i + (id == x ? 1 : 0)
                return (tokens, i + (id == x ? 1 : 0), done)
            }
        }
        stats.acceptedTokens += draft.count
        let (token, done) = emit(from: logits.row(draft.count))
        tokens.append(token)
        return (tokens, draft.count, done)
    }

    /// A draw from max(0, p − q) normalised (p itself when that is empty, i.e. p ≤ q everywhere,
    /// which happens only when p = q: then the rejection had probability 0).
    static func residualDraw(p: [(id: Int, probability: Double)], q: [(id: Int, probability: Double)], u: Double) -> Int {
        var qOf: [Int: Double] = [:]
        for entry in q { qOf[entry.id] = entry.probability }
        var residual = p.map { (id: $0.id, mass: max(0, $0.probability - (qOf[$0.id] ?? 0))) }
        var total = residual.reduce(0) { $0 + $1.mass }
        if total <= 0 {
            residual = p.map { (id: $0.id, mass: $0.probability) }
            total = 1
        }
        var cum = 0.0
        for entry in residual {
            cum += entry.mass
            if u * total < cum { return entry.id }
        }
        return residual.last { $0.mass > 0 }?.id ?? p[0].id
    }

    /// The row with `logit_bias` added and the constraint's mask applied, in `edited`: nil when
    /// neither applies (sample the row itself), false at a dead end (no token continues the
    /// grammar), true otherwise.
    private mutating func editedRow(_ logits: ArraySlice<Float>) -> Bool? {
        guard !request.logitBias.isEmpty || (constraint?.active ?? false) else { return nil }
        edited.removeAll(keepingCapacity: true)
        edited.append(contentsOf: logits)
        for (id, bias) in request.logitBias where id < edited.count { edited[id] += bias }
        return edited.withUnsafeMutableBufferPointer { constraint?.apply(to: $0) ?? true }
    }

    /// Samples, detokenizes and checks the stops for one row of logits (after logit_bias and the
    /// constraint's mask).
    private mutating func emit(from logits: ArraySlice<Float>) -> (token: GeneratedToken, done: Bool) {
        let editing = editedRow(logits)
        if editing == false {
            // A dead end (no token continues the grammar): end as if a stop id were sampled
            // rather than emit invalid text.
            stats.finishReason = .stop
            stats.generatedTokens += 1
            return (GeneratedToken(id: stopTokenIds.min() ?? 0, text: stopMatcher.flush() + detokenizer.finish(), logprob: nil, topLogprobs: []), true)
        }
        let id = editing == true ? edited.withUnsafeBufferPointer { sampler.sample(logits: $0, history: history) }
                                 : logits.withUnsafeBufferPointer { sampler.sample(logits: $0, history: history) }
        return emit(id: id, logits: logits)
    }

    /// Streams `id` (chosen from `logits`): log-probabilities, detokenizing, stops.
    private mutating func emit(id: Int, logits: ArraySlice<Float>) -> (token: GeneratedToken, done: Bool) {
        let (logprob, top) = logits.withUnsafeBufferPointer { row -> (Float?, [(id: Int, logprob: Float)]) in
            guard request.logprobs else { return (nil, []) }
            let top = request.topLogprobs > 0 ? topLogprobs(row, k: request.topLogprobs) : []
            return (logSoftmax(row)[id], top)
        }
        stats.generatedTokens += 1
        history.append(id)
        if !stopTokenIds.contains(id) { constraint?.consume(id) }
        if !request.ignoreStopTokens && stopTokenIds.contains(id) {
            stats.finishReason = .stop
            return (GeneratedToken(id: id, text: stopMatcher.flush() + detokenizer.finish(), logprob: logprob, topLogprobs: top), true)
        }
        let (text, hitStop) = stopMatcher.feed(detokenizer.append(id))
        if hitStop {
            stats.finishReason = .stop
            stats.stopString = stopMatcher.matched
            return (GeneratedToken(id: id, text: text, logprob: logprob, topLogprobs: top), true)
        }
        if constraint?.isFinished ?? false {
            // The structure is complete and nothing may follow: end without a stop token.
            stats.finishReason = .stop
            let tail = stopMatcher.feed(detokenizer.finish()).emit + stopMatcher.flush()
            return (GeneratedToken(id: id, text: text + tail, logprob: logprob, topLogprobs: top), true)
        }
        // The token just sampled still has to be fed back, so the sequence would hold history.count.
        let lastStep = stats.generatedTokens == request.maxTokens || history.count > contextLength
        let tail = lastStep ? stopMatcher.feed(detokenizer.finish()).emit + stopMatcher.flush() : ""
        if lastStep { stats.finishReason = .length }
        return (GeneratedToken(id: id, text: text + tail, logprob: logprob, topLogprobs: top), lastStep)
    }

    /// The consumer went away.
    mutating func cancel() { stats.finishReason = .cancelled }

    /// Ended early for lack of room (the KV cache cannot hold the sequence any longer).
    mutating func stopForLength() { stats.finishReason = .length }

    mutating func addPrefillTime(_ seconds: Double) { stats.prefillSeconds += seconds }
    mutating func addDecodeTime(_ seconds: Double) { stats.decodeSeconds += seconds }
    mutating func setCachedPromptTokens(_ n: Int) { stats.cachedPromptTokens = n }
}
