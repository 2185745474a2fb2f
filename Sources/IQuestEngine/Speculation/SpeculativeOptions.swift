/// Where drafted tokens come from.
public enum SpeculativeMode: String, Sendable, CaseIterable {
    /// No drafts: one token per forward.
    case off
    /// Prompt lookup: the tokens that followed the latest earlier occurrence of the sequence's
    /// last n tokens (prompt and output), no second model.
    case ngram
    /// A smaller model of the same tokenizer drafts (`Generator.draftModel`); verified with the
    /// min(1, p/q) rule, so the output keeps the target's distribution (greedy: its exact ids).
    case draft
}

/// How a request drafts tokens for speculative decoding. The output never depends on these:
/// drafts are verified against the target's own draws (`GenerationState.verify`), so they change
/// only how many tokens one forward yields.
public struct SpeculativeOptions: Sendable, Equatable {
    public var mode: SpeculativeMode
    /// Most tokens drafted per step (the step scores draftMax + 1 rows for the sequence).
    public var draftMax: Int
    /// Fewer tokens than this to propose: draft none (a short draft costs a row for little gain).
    public var draftMin: Int
    /// Longest and shortest suffix the n-gram drafter looks up (longest tried first).
    public var ngramMax: Int
    public var ngramMin: Int
    /// Let recent acceptance choose the draft length (up to draftMax, down to none); when false
    /// every step drafts as much as it can.
    public var adaptive: Bool

    public init(mode: SpeculativeMode = .off, draftMax: Int = 8, draftMin: Int = 1, ngramMax: Int = 4, ngramMin: Int = 2,
                adaptive: Bool = true) {
        self.mode = mode
        self.draftMax = draftMax
        self.draftMin = draftMin
        self.ngramMax = ngramMax
        self.ngramMin = ngramMin
        self.adaptive = adaptive
    }

    public static let off = SpeculativeOptions()

    /// Drafts at most this many per step: more rows than the decode kernels keep in registers
    /// (8 tokens) cost a second pass over the weights.
    public static let draftLimit = 16

    /// Throws a message naming the first bad setting.
    public func validate() throws {
        guard draftMax >= 1, draftMax <= Self.draftLimit else {
            throw GenerationError("draft max must be in 1…\(Self.draftLimit), got \(draftMax)")
        }
        guard draftMin >= 1, draftMin <= draftMax else {
            throw GenerationError("draft min must be in 1…draft max (\(draftMax)), got \(draftMin)")
        }
        guard ngramMin >= 1, ngramMax >= ngramMin, ngramMax <= 16 else {
            throw GenerationError("n-gram sizes must satisfy 1 ≤ min (\(ngramMin)) ≤ max (\(ngramMax)) ≤ 16")
        }
    }
}
