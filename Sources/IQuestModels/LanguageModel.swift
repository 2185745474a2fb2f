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

/// What a model needs remembered between forward calls of one sequence.
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
    /// What one token leaves in the KV blocks.
    var kvLayout: KVLayout { get }

    /// One step over several sequences whose keys and values live in `kv`: each entry's tokens
    /// are appended at its position (their keys/values written to its blocks) and logits
    /// returned for the positions it selects (nil where it selects none), in `batch` order.
    /// Throws on token ids out of range, tables that do not cover the positions, or a pool of
    /// another layout.
    func forward(batch: [BatchEntry], kv: KVBlockPool) throws -> [Logits?]

    /// Threads the kernels split work over.
    var pool: ComputePool { get set }

    /// How decode products treat activations against quantized weights (chosen at load).
    var activationPrecision: ActivationPrecision { get }

    /// Added to every position before its rotary angles are taken; 0 in normal use. A test hook
    /// for numerics at positions past 100,000 without a cache that long (keys, values and the
    /// causal mask keep their own positions).
    var rotaryPositionOffset: Int { get set }

    /// What loading repacked for the kernels (WeightRepacking); nil where nothing can be.
    var repackReport: RepackReport? { get }
}

extension LanguageModel {
    /// A cache for one sequence of at most `capacity` tokens, in a pool of its own, storing keys
    /// and values as `types` (exact f32 unless asked; the engine's commands default to
    /// `KVCacheTypes.standard`). Throws when the types cannot hold this model's heads.
    public func makeCache(capacity: Int, types: KVCacheTypes = .f32) throws -> any SequenceCache {
        if let reason = types.refusal(headDim: kvLayout.headDim) { throw ModelError(reason) }
        return PagedSequenceCache(layout: kvLayout, capacity: capacity, types: types)
    }

    /// Appends `tokens` to the sequence held by `cache` (made by `makeCache`) and returns logits
    /// for the selected positions. Chunks of 4 or more tokens run as a prompt, shorter ones on
    /// the decode kernels. Throws on token ids out of range or a full cache.
    public func forward(_ tokens: [Int], cache anyCache: any SequenceCache, logits selection: LogitsSelection) throws -> Logits {
        guard let cache = anyCache as? PagedSequenceCache, cache.layout == kvLayout else {
            throw ModelError("a \(architecture) model needs the cache it made with makeCache(capacity:)")
        }
        let entry = try cache.entry(for: tokens, phase: tokens.count >= 4 ? .prompt : .decode, logits: selection)
        guard let logits = try forward(batch: [entry], kv: cache.pool).first ?? nil else {
            throw ModelError("the model returned no logits (internal error)")
        }
        cache.advance(by: tokens.count)
        return logits
    }

    /// Appends `tokens` (a sampled token, then tokens drafted after it) as consecutive decode
    /// rows and returns logits for every one: row i sees rows < i of the same call (they are
    /// stored before attention runs) and is bitwise what feeding the tokens one call at a time
    /// gives, since decode products and attention depend only on a row's own token and position.
    /// The windowed pass keeps the blocks of the first row's window, so `truncate(to:)` back to
    /// any position after the first row is exact (speculative verification, then rollback).
    public func forwardDecodeRows(_ tokens: [Int], cache anyCache: any SequenceCache) throws -> Logits {
        guard let cache = anyCache as? PagedSequenceCache, cache.layout == kvLayout else {
            throw ModelError("a \(architecture) model needs the cache it made with makeCache(capacity:)")
        }
        let first = cache.count
        let entry = try cache.entry(for: tokens, phase: .decode, logits: .all)
        guard let logits = try forward(batch: [entry], kv: cache.pool).first ?? nil else {
            throw ModelError("the model returned no logits (internal error)")
        }
        cache.advance(by: tokens.count, keepingWindowOf: first + 1)
        return logits
    }
}
