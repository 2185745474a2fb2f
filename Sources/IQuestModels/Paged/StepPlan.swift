import IQuestKernels

/// The rows of one forward step: every entry's tokens laid out entry after entry, decode entries
/// first, so the products run once over all decode rows and once over all prompt rows.
/// Also holds each entry's block tables in one buffer the attention kernels can point into.
final class StepPlan {
    /// Batch indices in row order (decode entries first, input order otherwise kept).
    private(set) var order: [Int] = []
    private(set) var entries: [BatchEntry] = []
    /// First row of each entry, by batch index.
    private(set) var firstRow: [Int] = []
    private(set) var decodeRows = 0
    private(set) var totalRows = 0
    /// Position of every row.
    private(set) var positions: [Int] = []
    /// Token of every row.
    private(set) var tokens: [Int] = []
    /// Most keys any query of a decode entry sees, and the prompt scratch the largest prompt
    /// entry needs (floats).
    private(set) var scratchFloats = 0
    private var tables = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private var tableCapacity = 0
    private var globalOffset: [Int] = []
    private var localOffset: [Int] = []

    var promptRows: Int { totalRows - decodeRows }

    deinit { tables.deallocate() }

    /// Checks `batch` against the model and the pool and lays it out.
    func build(_ batch: [BatchEntry], config c: LlamaConfiguration, kv: KVBlockPool, layout: KVLayout, threads: Int) throws {
        guard !batch.isEmpty else { throw ModelError("forward called with an empty batch") }
        guard kv.layout == layout else {
            throw ModelError("the KV pool holds \(kv.layout.layers) layers × \(kv.layout.kvWidth) but the model needs \(layout.layers) × \(layout.kvWidth)")
        }
        let b = kv.blockSize
        var tableFloats = 0
        for entry in batch {
            guard !entry.tokens.isEmpty else { throw ModelError("forward called with no tokens") }
            for id in entry.tokens where id < 0 || id >= c.vocabularySize {
                throw ModelError("token id \(id) is outside the vocabulary (0..<\(c.vocabularySize))")
            }
            let end = entry.position + entry.tokens.count
            guard entry.position >= 0, entry.blocks.count * b >= end else {
                throw ModelError("the block table covers \(entry.blocks.count * b) positions but the step writes up to \(end)")
            }
            for block in entry.blocks.prefix((end + b - 1) / b) where block < 0 || Int(block) >= kv.blockCount {
                throw ModelError("block \(block) is outside the pool (0..<\(kv.blockCount))")
            }
            if let window = layout.localWindow {
                let needed = (KVLayout.windowStart(query: entry.position, window: window) / b)...((end - 1) / b)
                guard entry.localBlocks.count > needed.upperBound,
                      needed.allSatisfy({ entry.localBlocks[$0] >= 0 && Int(entry.localBlocks[$0]) < kv.blockCount }) else {
                    throw ModelError("the local block table does not cover positions \(needed.lowerBound * b)..<\(end)")
                }
            }
            tableFloats += entry.blocks.count + entry.localBlocks.count
        }
        entries = batch
        order = batch.indices.filter { batch[$0].phase == .decode } + batch.indices.filter { batch[$0].phase == .prompt }
        firstRow = Array(repeating: 0, count: batch.count)
        positions.removeAll(keepingCapacity: true)
        tokens.removeAll(keepingCapacity: true)
        decodeRows = 0
        var promptScratch = 0
        var decodePositions: [Int] = []
        for index in order {
            let entry = batch[index]
            firstRow[index] = positions.count
            positions.append(contentsOf: entry.position..<(entry.position + entry.tokens.count))
            tokens.append(contentsOf: entry.tokens)
            if entry.phase == .decode {
                decodeRows += entry.tokens.count
                decodePositions.append(contentsOf: entry.position..<(entry.position + entry.tokens.count))
            } else {
                promptScratch = promptAttentionScratchCount(shape: c.attention, threads: threads)
            }
        }
        // Prompt entries attend one after another, then all decode rows at once: one scratch serves both.
        scratchFloats = max(promptScratch, decodePositions.isEmpty
            ? 0 : decodeAttentionScratchCount(positions: decodePositions, shape: c.attention, threads: threads))
        totalRows = positions.count

        if tableFloats > tableCapacity {
            tables.deallocate()
            tableCapacity = max(tableFloats, tableCapacity * 2)
            tables = .allocate(capacity: tableCapacity)
        }
        globalOffset = Array(repeating: 0, count: batch.count)
        localOffset = Array(repeating: 0, count: batch.count)
        var offset = 0
        for (index, entry) in batch.enumerated() {
            globalOffset[index] = offset
            entry.blocks.withUnsafeBufferPointer { (tables + offset).update(from: $0.baseAddress!, count: $0.count) }
            offset += entry.blocks.count
            localOffset[index] = offset
            if !entry.localBlocks.isEmpty {
                entry.localBlocks.withUnsafeBufferPointer { (tables + offset).update(from: $0.baseAddress!, count: $0.count) }
                offset += entry.localBlocks.count
            }
        }
    }

    /// Block table of entry `index` (the windowed pass's when `local`).
    func table(_ index: Int, local: Bool) -> UnsafePointer<Int32> {
        UnsafePointer(tables + (local ? localOffset[index] : globalOffset[index]))
    }

    /// Writes rows of keys/values [totalRows, kvHeads·headDim] into each row's block in `layer`,
    /// each kv head's part encoded as the pool's key/value type into that head's row of the block.
    func store(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, layer: Int, kv: KVBlockPool, local: Bool) {
        let w = kv.layout.kvWidth, hd = kv.layout.headDim, b = kv.blockSize
        let keyKind = kv.types.keys.kind, valueKind = kv.types.values.kind
        for index in order {
            let table = self.table(index, local: local)
            let entry = entries[index]
            for i in 0..<entry.tokens.count {
                let row = firstRow[index] + i, p = entry.position + i
                let block = Int(table[p / b])
                for head in 0..<kv.layout.kvHeads {
                    quantizeRow(keyKind, keys + row * w + head * hd, count: hd,
                                into: kv.keyRow(layer: layer, block: block, head: head, slot: p % b))
                    quantizeRow(valueKind, values + row * w + head * hd, count: hd,
                                into: kv.valueRow(layer: layer, block: block, head: head, slot: p % b))
                }
            }
        }
    }

    /// Attention of every row's queries over its own sequence in `layer`: decode rows in one
    /// pass, each prompt entry as a chunk. `window`: the windowed pass (local tables).
    func attend(queries: UnsafePointer<Float>, layer: Int, kv: KVBlockPool, shape: AttentionShape, window: Int?,
                into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, pool: ComputePool) {
        let local = window != nil
        var decode: [DecodeQuery] = []
        decode.reserveCapacity(decodeRows)
        for index in order {
            let entry = entries[index]
            let rows = kv.rows(layer: layer, table: table(index, local: local))
            let row0 = firstRow[index]
            if entry.phase == .decode {
                for i in 0..<entry.tokens.count {
                    decode.append(DecodeQuery(queries: queries + (row0 + i) * shape.queryWidth, kv: rows,
                                              position: entry.position + i, window: window,
                                              out: out + (row0 + i) * shape.queryWidth))
                }
            } else {
                // The windowed pass starts at the first query's window: older local blocks may be gone.
                let keyStart = window.map { KVLayout.windowStart(query: entry.position, window: $0) } ?? 0
                promptAttention(queries: queries + row0 * shape.queryWidth, kv: rows, firstPosition: entry.position,
                                tokens: entry.tokens.count, shape: shape, into: out + row0 * shape.queryWidth,
                                scratch: scratch, pool: pool, keyStart: keyStart, window: window)
            }
        }
        decodeAttention(decode, shape: shape, scratch: scratch, pool: pool)
    }

    /// Rows whose logits are wanted, in row order, with the batch index they belong to; decode
    /// rows come first (`decodeCount` of them).
    func logitRows() -> (rows: [Int], owners: [Int], decodeCount: Int) {
        var rows: [Int] = [], owners: [Int] = [], decodeCount = 0
        for index in order {
            guard let selection = entries[index].logits else { continue }
            let count = entries[index].tokens.count
            let first = selection == .all ? 0 : count - 1
            for i in first..<count {
                rows.append(firstRow[index] + i)
                owners.append(index)
                if entries[index].phase == .decode { decodeCount += 1 }
            }
        }
        return (rows, owners, decodeCount)
    }
}
