/// How a sequence's new tokens go through the products: decode rows take the row kernels
/// (each weight read once per step for all decode rows), prompt rows the packed matrix product.
/// The choice is the caller's, not the batch's size, so a sequence computes exactly the same
/// numbers alone or batched with others.
public enum BatchPhase: Sendable, Equatable {
    case prompt
    case decode
}

/// One sequence's share of a forward step over a `KVBlockPool`.
public struct BatchEntry {
    /// New tokens, at positions `position` … `position + tokens.count − 1`.
    public var tokens: [Int]
    /// Tokens the sequence already holds in its blocks.
    public var position: Int
    /// Block ids by block index (position / blockSize); must cover every position up to the last
    /// new one.
    public var blocks: [Int32]
    /// Windowed-pass blocks by block index, −1 where the sequence holds none; must cover the
    /// window of every new token (models with a `localWindow` only).
    public var localBlocks: [Int32]
    public var phase: BatchPhase
    /// Which of this entry's positions need logits; nil for none (a prompt chunk that is not the
    /// prompt's last).
    public var logits: LogitsSelection?

    public init(tokens: [Int], position: Int, blocks: [Int32], localBlocks: [Int32] = [], phase: BatchPhase,
                logits: LogitsSelection?) {
        self.tokens = tokens
        self.position = position
        self.blocks = blocks
        self.localBlocks = localBlocks
        self.phase = phase
        self.logits = logits
    }
}
