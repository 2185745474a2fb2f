/// One sequence in a private block pool: what `makeCache(capacity:)` returns for callers that run
/// one sequence at a time (the CLI, parity tests). Global blocks are simply 0, 1, 2, … ; a model
/// with a windowed pass takes its local blocks from a free list and gives back those older than
/// the window after each step, so that part stays bounded whatever the length.
public final class PagedSequenceCache: SequenceCache {
    public let layout: KVLayout
    public let pool: KVBlockPool
    public let capacity: Int
    public private(set) var count = 0
    /// Block ids by block index.
    public private(set) var blocks: [Int32]
    /// Windowed-pass block ids by block index, −1 where none is held.
    public private(set) var localBlocks: [Int32]
    private var freeLocal: [Int32]

    public init(layout: KVLayout, capacity: Int, blockSize: Int = KVBlockPool.defaultBlockSize) {
        self.layout = layout
        self.capacity = capacity
        let n = (capacity + blockSize - 1) / blockSize
        let windowed = layout.localWindow != nil
        pool = KVBlockPool(layout: layout, blockCount: windowed ? 2 * n : n, blockSize: blockSize)
        blocks = (0..<n).map { Int32($0) }
        localBlocks = windowed ? Array(repeating: -1, count: n) : []
        freeLocal = windowed ? (n..<(2 * n)).reversed().map { Int32($0) } : []
    }

    public var blockSize: Int { pool.blockSize }

    /// Local blocks currently held.
    public var heldLocalBlocks: Int { localBlocks.lazy.filter { $0 >= 0 }.count }

    /// The entry for appending `tokens`, local blocks for their windows taken first.
    func entry(for tokens: [Int], phase: BatchPhase, logits: LogitsSelection?) throws -> BatchEntry {
        guard count + tokens.count <= capacity else {
            throw ModelError("the sequence would hold \(count + tokens.count) tokens but its cache holds \(capacity)")
        }
        if let window = layout.localWindow, !tokens.isEmpty {
            let first = KVLayout.windowStart(query: count, window: window) / blockSize
            let last = (count + tokens.count - 1) / blockSize
            for index in first...last where localBlocks[index] < 0 {
                guard let block = freeLocal.popLast() else { throw ModelError("no free local block (internal error)") }
                localBlocks[index] = block
            }
        }
        return BatchEntry(tokens: tokens, position: count, blocks: blocks, localBlocks: localBlocks, phase: phase, logits: logits)
    }

    /// Marks `n` more positions filled and gives back local blocks no later query can see.
    func advance(by n: Int) {
        count += n
        releaseLocal(before: count)
    }

    /// Local blocks every position of which is older than the window of a query at `position`.
    private func releaseLocal(before position: Int) {
        guard let window = layout.localWindow else { return }
        let keepFrom = KVLayout.windowStart(query: position, window: window) / blockSize
        for index in 0..<min(keepFrom, localBlocks.count) where localBlocks[index] >= 0 {
            freeLocal.append(localBlocks[index])
            localBlocks[index] = -1
        }
    }

    /// Pass-2 keys of kv head `head` of `layer` at `position` ([headDim]; nil when its block was
    /// given back).
    public func localKeys(layer: Int, position: Int, head: Int) -> UnsafeMutablePointer<Float>? {
        guard position / blockSize < localBlocks.count else { return nil }
        let block = localBlocks[position / blockSize]
        guard block >= 0 else { return nil }
        return pool.keys(layer: layer, block: Int(block)) + pool.rowOffset(head: head, slot: position % blockSize)
    }

    public func localValues(layer: Int, position: Int, head: Int) -> UnsafeMutablePointer<Float>? {
        localKeys(layer: layer, position: position, head: head).map { $0 + blockSize * layout.kvWidth }
    }

    /// Forgets everything after the first `length` tokens. A windowed model can only go back as
    /// far as the local entries it still holds; further back it restarts from empty.
    public func truncate(to length: Int) {
        let target = max(0, min(count, length))
        if let window = layout.localWindow, target > 0 {
            let needed = KVLayout.windowStart(query: target, window: window)..<target
            if !needed.allSatisfy({ localBlocks[$0 / blockSize] >= 0 }) {
                count = 0
                releaseLocal(before: Int.max / 2)
                return
            }
        }
        count = target
    }
}
