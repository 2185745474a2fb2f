import IQuestKernels

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

    public init(layout: KVLayout, capacity: Int, blockSize: Int = KVBlockPool.defaultBlockSize, types: KVCacheTypes = .f32) {
        self.layout = layout
        self.capacity = capacity
        let n = (capacity + blockSize - 1) / blockSize
        let windowed = layout.localWindow != nil
        pool = KVBlockPool(layout: layout, blockCount: windowed ? 2 * n : n, blockSize: blockSize, types: types)
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

    /// Marks `n` more positions filled and gives back local blocks no later query can see; with
    /// `position`, only those a query there cannot see (positions up to it may be taken back).
    func advance(by n: Int, keepingWindowOf position: Int? = nil) {
        count += n
        releaseLocal(before: min(position ?? count, count))
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

    /// Adds `keyDelta` / `valueDelta` to every element of the stored pass-2 key and value rows
    /// of kv head `head` of `layer` at `position` (decoded, shifted, encoded again in the pool's
    /// types). Returns false when that position's local block was given back. The window-edge
    /// tests use it to show which entries a query reads.
    @discardableResult
    public func shiftLocalRows(layer: Int, position: Int, head: Int, keyDelta: Float, valueDelta: Float) -> Bool {
        guard position / blockSize < localBlocks.count else { return false }
        let block = Int(localBlocks[position / blockSize])
        guard block >= 0 else { return false }
        let slot = position % blockSize, hd = layout.headDim
        var row = [Float](repeating: 0, count: hd)
        for (pointer, kind, delta) in [(pool.keyRow(layer: layer, block: block, head: head, slot: slot), pool.types.keys.kind, keyDelta),
                                       (pool.valueRow(layer: layer, block: block, head: head, slot: slot), pool.types.values.kind, valueDelta)] {
            row.withUnsafeMutableBufferPointer { r in
                dequantizeRow(kind, pointer, into: r.baseAddress!, count: hd)
                for i in 0..<hd { r[i] += delta }
                quantizeRow(kind, r.baseAddress!, count: hd, into: pointer)
            }
        }
        return true
    }

    /// Bench support (`iquest bench --depth D --synthetic-fill`): makes the cache hold `length`
    /// positions of pseudo-random key and value rows (elements uniform in ±1, encoded in the
    /// pool's types) without running the model, so attention at depth can be timed where a real
    /// prefill would take hours. The rows repeat a table of 251 encoded rows; what attention
    /// costs does not depend on their values. Local (windowed-pass) blocks are filled for the
    /// window of the next query, as a real run would hold them.
    public func fillSynthetic(length: Int, seed: UInt64 = 0x9E37_79B9) throws {
        guard length <= capacity else {
            throw ModelError("a synthetic fill of \(length) tokens exceeds the cache's \(capacity)")
        }
        count = 0
        releaseLocal(before: Int.max / 2)
        guard length > 0 else { return }
        var localIndices: Range<Int> = 0..<0
        if let window = layout.localWindow {
            localIndices = (KVLayout.windowStart(query: length, window: window) / blockSize)..<((length - 1) / blockSize + 1)
            for index in localIndices where localBlocks[index] < 0 {
                guard let block = freeLocal.popLast() else { throw ModelError("no free local block (internal error)") }
                localBlocks[index] = block
            }
        }
        let hd = layout.headDim, tableRows = 251
        var state = seed | 1
        let floats = (0..<(tableRows * hd)).map { _ -> Float in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Float(Double(state >> 11) / Double(1 << 53) * 2 - 1)
        }
        func encode(_ kind: WeightKind, rowBytes: Int) -> [UInt8] {
            var table = [UInt8](repeating: 0, count: tableRows * rowBytes)
            floats.withUnsafeBufferPointer { f in
                table.withUnsafeMutableBytes { t in
                    for r in 0..<tableRows {
                        quantizeRow(kind, f.baseAddress! + r * hd, count: hd, into: t.baseAddress! + r * rowBytes)
                    }
                }
            }
            return table
        }
        let keyTable = encode(pool.types.keys.kind, rowBytes: pool.keyRowBytes)
        let valueTable = encode(pool.types.values.kind, rowBytes: pool.valueRowBytes)
        let globalIndices = 0..<((length - 1) / blockSize + 1)
        keyTable.withUnsafeBytes { keys in
            valueTable.withUnsafeBytes { values in
                for layer in 0..<layout.layers {
                    for (indices, table) in [(globalIndices, blocks), (localIndices, localBlocks)] {
                        for index in indices {
                            let block = Int(table[index])
                            for head in 0..<layout.kvHeads {
                                for slot in 0..<blockSize where index * blockSize + slot < length {
                                    let r = (index * blockSize + slot + 17 * head + 101 * layer) % tableRows
                                    pool.keyRow(layer: layer, block: block, head: head, slot: slot)
                                        .copyMemory(from: keys.baseAddress! + r * pool.keyRowBytes, byteCount: pool.keyRowBytes)
                                    pool.valueRow(layer: layer, block: block, head: head, slot: slot)
                                        .copyMemory(from: values.baseAddress! + r * pool.valueRowBytes, byteCount: pool.valueRowBytes)
                                }
                            }
                        }
                    }
                }
            }
        }
        count = length
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
        // Local blocks past the new end hold only forgotten rows; give them back so the ring
        // holds exactly what a run that never went past `target` would.
        if layout.localWindow != nil {
            let lastKept = target == 0 ? -1 : (target - 1) / blockSize
            for index in (lastKept + 1)..<localBlocks.count where localBlocks[index] >= 0 {
                freeLocal.append(localBlocks[index])
                localBlocks[index] = -1
            }
            releaseLocal(before: target)
        }
    }
}
