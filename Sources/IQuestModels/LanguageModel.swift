import IQuestKernels

/// Which positions of a forward pass need logits.
public enum LogitsSelection: Sendable, Equatable {
    /// Only the last token (generation).
    case last
    /// Every token (parity tests, prompt logprobs).
    case all
}

/// Logits for `rows` positions, row-major [rows, vocabularySize].
public struct Logits: Sendable {
    public let rows: Int
    public let vocabularySize: Int
    public var values: [Float]

    public init(rows: Int, vocabularySize: Int, values: [Float]) {
        self.rows = rows
        self.vocabularySize = vocabularySize
        self.values = values
    }

    public func row(_ r: Int) -> ArraySlice<Float> {
        values[(r * vocabularySize)..<((r + 1) * vocabularySize)]
    }
}

/// What a model needs remembered between forward calls of one sequence. Each architecture
/// declares its own (dense models: one growing key/value cache per layer).
public protocol SequenceCache: AnyObject {
    /// Tokens already processed (the next token's position).
    var count: Int { get }
    /// Most tokens the cache can hold.
    var capacity: Int { get }
    /// Forgets everything after the first `length` tokens.
    func truncate(to length: Int)
}

/// A causal language model: token ids in, next-token logits out. Models know nothing of
/// tokenizers, sampling or serving. A model instance is used by one caller at a time.
public protocol LanguageModel: AnyObject {
    var vocabularySize: Int { get }
    /// The context length the checkpoint was trained for.
    var contextLength: Int { get }
    var architecture: String { get }

    /// A cache for one sequence of at most `capacity` tokens.
    func makeCache(capacity: Int) -> any SequenceCache

    /// Appends `tokens` to the sequence held by `cache` and returns logits for the selected
    /// positions. Throws on token ids out of range or a full cache.
    func forward(_ tokens: [Int], cache: any SequenceCache, logits: LogitsSelection) throws -> Logits

    /// Threads the kernels split work over.
    var pool: ComputePool { get set }

    /// How decode products treat activations against quantized weights (chosen at load).
    var activationPrecision: ActivationPrecision { get }
}
