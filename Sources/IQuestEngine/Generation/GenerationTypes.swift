/// What to generate after a prompt.
public struct GenerationRequest: Sendable {
    public var promptIds: [Int]
    public var sampling: SamplingParameters
    public var maxTokens: Int
    /// Generation ends when the text contains any of these; the stop string itself is not emitted.
    public var stopStrings: [String]
    /// Report each token's log-probability and `topLogprobs` alternatives, taken from the raw
    /// logits (log-softmax before any sampling filter).
    public var logprobs: Bool
    public var topLogprobs: Int
    /// Keep generating past the model's stop tokens (until `maxTokens`, a stop string or the
    /// context ends): what benchmarks and load tests use to get fixed-length outputs.
    public var ignoreStopTokens = false
    /// Structured output: only tokens that keep the text inside this grammar are sampled, stop
    /// ids only where it is complete.
    public var constraint: OutputConstraint?
    /// Added to the logits of these ids before sampling (OpenAI `logit_bias`; -100 bans, +100
    /// all but forces).
    public var logitBias: [Int: Float] = [:]
    /// Speculative decoding for this request (drafts change speed, never the output); nil takes
    /// the engine's default (`SchedulerConfiguration.speculative`; off in `Generator`).
    public var speculative: SpeculativeOptions?
    /// How a constraint's forced runs are fed (`GenerationState.forcedDraft`); the output is the
    /// same whichever, only the forwards differ.
    public var forcedRuns: ForcedRuns = .adaptive

    public init(promptIds: [Int], sampling: SamplingParameters = .greedy, maxTokens: Int = 256,
                stopStrings: [String] = [], logprobs: Bool = false, topLogprobs: Int = 0) {
        self.promptIds = promptIds
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.stopStrings = stopStrings
        self.logprobs = logprobs || topLogprobs > 0
        self.topLogprobs = topLogprobs
    }
}

/// One generated token as it streams out.
public struct GeneratedToken: Sendable {
    public let id: Int
    /// Text this token completed (may be empty while a UTF-8 character or a possible stop string
    /// is held back).
    public let text: String
    /// Present when the request asked for log-probabilities.
    public let logprob: Float?
    public let topLogprobs: [(id: Int, logprob: Float)]

    public init(id: Int, text: String, logprob: Float?, topLogprobs: [(id: Int, logprob: Float)]) {
        self.id = id
        self.text = text
        self.logprob = logprob
        self.topLogprobs = topLogprobs
    }
}

public enum FinishReason: String, Sendable {
    /// An end-of-sequence token or a stop string.
    case stop
    /// max tokens or the context was reached.
    case length
    /// The caller stopped it (`onToken` returned false or `isCancelled` said so).
    case cancelled
}

/// Counters for one generation.
/// Feeding a constraint's forced runs (tokens its grammar leaves no choice about) as drafts that
/// one forward verifies.
public enum ForcedRuns: Sendable {
    /// One forward per token, as without a constraint.
    case off
    /// As many of a run's tokens as pay, judged from how often the model confirmed them and what
    /// a row costs (the default).
    case adaptive
    /// Every token of each run.
    case always
}

public struct GenerationStats: Sendable {
    public var promptTokens = 0
    /// Prompt tokens whose keys/values came from the prefix cache instead of being computed.
    public var cachedPromptTokens = 0
    public var generatedTokens = 0
    public var prefillSeconds = 0.0
    public var decodeSeconds = 0.0
    public var finishReason: FinishReason = .length
    /// The stop string that ended generation, when one did.
    public var stopString: String?
    /// Forward passes whose logits gave this request tokens (the prompt's last chunk included),
    /// tokens drafted for verification and how many of them were accepted.
    public var forwards = 0
    public var draftedTokens = 0
    public var acceptedTokens = 0
    /// Tokens of a constraint's forced runs fed as drafts, and how many the model confirmed
    /// (each confirmed one is a forward saved).
    public var forcedTokens = 0
    public var forcedAccepted = 0

    public init() {}

    public var prefillTokensPerSecond: Double { prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0 }
    /// Decode rate over the tokens produced by single-token steps (the first comes from prefill).
    /// Accepted / drafted (0 when nothing was drafted).
    public var acceptanceRate: Double { draftedTokens == 0 ? 0 : Double(acceptedTokens) / Double(draftedTokens) }
    public var tokensPerForward: Double { forwards == 0 ? 0 : Double(generatedTokens) / Double(forwards) }

    public var decodeTokensPerSecond: Double {
        decodeSeconds > 0 ? Double(max(0, generatedTokens - 1)) / decodeSeconds : 0
    }
}

public struct GenerationError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
