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
    /// [vocab] logits after logit_bias and the constraint's mask (only when either is in use).
    private var edited: [Float] = []

    /// Checks the request against the model; throws a message naming the problem.
    init(request: GenerationRequest, tokenizer: any Tokenizer, stopTokenIds: Set<Int>, vocabularySize: Int,
         contextLength: Int) throws {
        try request.sampling.validate()
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

    /// Samples the next token from `logits` (one row). Returns the token to stream and whether
    /// generation ends with it (then `stats.finishReason` says why). `positions` is how many
    /// tokens the sequence holds once this token is fed back (for the context limit).
    mutating func next(from logits: ArraySlice<Float>) -> (token: GeneratedToken, done: Bool) {
        let editing = !request.logitBias.isEmpty || (constraint?.active ?? false)
        if editing {
            edited.removeAll(keepingCapacity: true)
            edited.append(contentsOf: logits)
            for (id, bias) in request.logitBias where id < edited.count { edited[id] += bias }
            let allowed = edited.withUnsafeMutableBufferPointer { constraint?.apply(to: $0) ?? true }
            if !allowed {
                // A dead end (no token continues the grammar): end as if a stop id were sampled
                // rather than emit invalid text.
                stats.finishReason = .stop
                stats.generatedTokens += 1
                return (GeneratedToken(id: stopTokenIds.min() ?? 0, text: stopMatcher.flush() + detokenizer.finish(), logprob: nil, topLogprobs: []), true)
            }
        }
        let (id, logprob, top) = logits.withUnsafeBufferPointer { row -> (Int, Float?, [(id: Int, logprob: Float)]) in
            let id = editing ? edited.withUnsafeBufferPointer { sampler.sample(logits: $0, history: history) }
                             : sampler.sample(logits: row, history: history)
            guard request.logprobs else { return (id, nil, []) }
            let top = request.topLogprobs > 0 ? topLogprobs(row, k: request.topLogprobs) : []
            return (id, logSoftmax(row)[id], top)
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
