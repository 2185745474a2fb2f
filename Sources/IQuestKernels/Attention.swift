/// Head geometry of grouped-query attention: query head h reads key/value head h / (heads / kvHeads).
public struct AttentionShape: Sendable, Equatable {
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int

    public init(heads: Int, kvHeads: Int, headDim: Int) {
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
    }

    public var queryWidth: Int { heads * headDim }
    public var kvWidth: Int { kvHeads * headDim }
    /// Query heads reading each key/value head.
    public var group: Int { heads / kvHeads }
}

/// Where one layer's keys and values of one sequence live, and how they are stored: position p
/// is slot p mod blockSize of block table[p / blockSize]; the key row of kv head h there starts
/// `block·blockStride + h·keyHeadStride + slot·keyRowStride` bytes after `keys` (values likewise
/// from `values`), encoded as `keyKind` / `valueKind` (one head row = headDim elements).
/// Paged blocks keep each kv head's rows together ([kvHeads, blockSize, headDim]); a contiguous
/// f32 [positions, kvHeads·headDim] buffer is the special case of one unbounded block.
public struct KVRows {
    public let keys: UnsafeRawPointer
    public let values: UnsafeRawPointer
    public let keyKind: WeightKind
    public let valueKind: WeightKind
    let table: UnsafePointer<Int32>
    let shift: Int
    let mask: Int
    let blockStride: Int
    let keyHeadStride: Int
    let keyRowStride: Int
    let valueHeadStride: Int
    let valueRowStride: Int

    /// Paged rows; `blockSize` must be a power of two and `table` cover every position read.
    /// Strides are in bytes.
    public init(keys: UnsafeRawPointer, values: UnsafeRawPointer, keyKind: WeightKind, valueKind: WeightKind,
                table: UnsafePointer<Int32>, blockSize: Int, blockStride: Int,
                keyHeadStride: Int, keyRowStride: Int, valueHeadStride: Int, valueRowStride: Int) {
        precondition(blockSize > 0 && blockSize & (blockSize - 1) == 0, "block size must be a power of two")
        self.keys = keys
        self.values = values
        self.keyKind = keyKind
        self.valueKind = valueKind
        self.table = table
        shift = blockSize.trailingZeroBitCount
        mask = blockSize - 1
        self.blockStride = blockStride
        self.keyHeadStride = keyHeadStride
        self.keyRowStride = keyRowStride
        self.valueHeadStride = valueHeadStride
        self.valueRowStride = valueRowStride
    }

    /// f32 rows `keys + p·kvWidth` (and values likewise) for every position p, kv head h at +h·headDim.
    public static func contiguous(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, shape: AttentionShape) -> KVRows {
        KVRows(keys: UnsafeRawPointer(keys), values: UnsafeRawPointer(values), keyKind: .f32, valueKind: .f32,
               table: singleBlockTable, blockSize: 1 << 48, blockStride: 0,
               keyHeadStride: shape.headDim * 4, keyRowStride: shape.kvWidth * 4,
               valueHeadStride: shape.headDim * 4, valueRowStride: shape.kvWidth * 4)
    }

    /// Positions per storage block.
    var blockSize: Int { mask + 1 }

    @inline(__always) func blockBase(_ position: Int) -> Int { Int(table[position &>> shift]) &* blockStride }

    /// The stored key row of kv head `head` at `position`.
    @inline(__always) public func keyRow(_ position: Int, head: Int) -> UnsafeRawPointer {
        keys + (blockBase(position) &+ head &* keyHeadStride &+ (position & mask) &* keyRowStride)
    }

    /// The stored value row of kv head `head` at `position`.
    @inline(__always) public func valueRow(_ position: Int, head: Int) -> UnsafeRawPointer {
        values + (blockBase(position) &+ head &* valueHeadStride &+ (position & mask) &* valueRowStride)
    }

    /// The key row as f32: the stored row itself for f32 storage, else decoded into `buffer` [headDim].
    @inline(__always) func keyFloats(_ position: Int, head: Int, headDim: Int, buffer: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        let row = keyRow(position, head: head)
        if keyKind == .f32 { return row.assumingMemoryBound(to: Float.self) }
        dequantizeRow(keyKind, row, into: buffer, count: headDim)
        return UnsafePointer(buffer)
    }

    /// Keys of positions `range` (within one aligned tile of 16) as f32 rows [range.count,
    /// headDim] one after another: the stored rows themselves when they are f32 and packed, else
    /// decoded into `buffer`. Rows of one head in one block sit back to back, and a tile never
    /// spans two blocks of 16 or more, so a packed tile decodes in one call (the encodings are
    /// per row, so this equals decoding row by row).
    @inline(__always) func keyTile(_ range: Range<Int>, head: Int, headDim: Int, buffer: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        rowTile(range, base: keys, kind: keyKind, headStride: keyHeadStride, rowStride: keyRowStride, head: head,
                headDim: headDim, buffer: buffer)
    }

    /// Values of positions `range`, like `keyTile`.
    @inline(__always) func valueTile(_ range: Range<Int>, head: Int, headDim: Int, buffer: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        rowTile(range, base: values, kind: valueKind, headStride: valueHeadStride, rowStride: valueRowStride, head: head,
                headDim: headDim, buffer: buffer)
    }

    @inline(__always)
    private func rowTile(_ range: Range<Int>, base: UnsafeRawPointer, kind: WeightKind, headStride: Int, rowStride: Int,
                         head: Int, headDim: Int, buffer: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        guard !range.isEmpty else { return UnsafePointer(buffer) }
        let first = base + (blockBase(range.lowerBound) &+ head &* headStride &+ (range.lowerBound & mask) &* rowStride)
        if mask + 1 >= attentionTile && rowStride == kind.rowBytes(columns: headDim) {
            if kind == .f32 { return first.assumingMemoryBound(to: Float.self) }
            dequantizeRow(kind, first, into: buffer, count: range.count * headDim)
            return UnsafePointer(buffer)
        }
        for (i, p) in range.enumerated() {
            let row = base + (blockBase(p) &+ head &* headStride &+ (p & mask) &* rowStride)
            dequantizeRow(kind, row, into: buffer + i * headDim, count: headDim)
        }
        return UnsafePointer(buffer)
    }

}

/// The table of a contiguous buffer: one block, number 0 (never written after creation).
nonisolated(unsafe) private let singleBlockTable: UnsafePointer<Int32> = {
    let p = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    p.initialize(to: 0)
    return UnsafePointer(p)
}()

/// One query token of a decode step: its heads' queries [heads, headDim] at `position`, the rows
/// of its own sequence, and where its output [heads, headDim] goes. `keyStart`/`window` as for
/// `causalAttention`.
public struct DecodeQuery {
    public let queries: UnsafePointer<Float>
    public let kv: KVRows
    public let position: Int
    public let keyStart: Int
    public let window: Int?
    public let out: UnsafeMutablePointer<Float>

    public init(queries: UnsafePointer<Float>, kv: KVRows, position: Int, keyStart: Int = 0, window: Int? = nil,
                out: UnsafeMutablePointer<Float>) {
        self.queries = queries
        self.kv = kv
        self.position = position
        self.keyStart = keyStart
        self.window = window
        self.out = out
    }

    /// Positions this query sees.
    @inline(__always) var visible: Range<Int> {
        let first = window.map { max(keyStart, position - $0 + 1) } ?? keyStart
        return first..<(position + 1)
    }
}

/// Causal attention of T new tokens at positions p0 … p0+T−1 over a cache that already holds
/// their keys and values (contiguous f32 buffers: row j holds position keyStart+j).
/// - queries: [T, heads, headDim] (after RoPE)
/// - out: [T, heads, headDim]
/// - scratch: at least `attentionScratchCount(...)` floats
/// Query t (position p = p0+t) sees positions keyStart … p, or only the last `window` of them
/// (max(keyStart, p−window+1) … p); scores are scaled by 1/√headDim and softmaxed in fp32.
public func causalAttention(queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                            firstPosition p0: Int, tokens: Int, shape: AttentionShape,
                            into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                            pool: ComputePool, keyStart: Int = 0, window: Int? = nil) {
    // Row j of the buffers is position keyStart + j.
    let kv = KVRows.contiguous(keys: keys - keyStart * shape.kvWidth, values: values - keyStart * shape.kvWidth, shape: shape)
    if tokens < blockedThreshold {
        let items = (0..<tokens).map { t in
            DecodeQuery(queries: queries + t * shape.queryWidth, kv: kv, position: p0 + t, keyStart: keyStart, window: window,
                        out: out + t * shape.queryWidth)
        }
        decodeAttention(items, shape: shape, scratch: scratch, pool: pool)
    } else {
        promptAttention(queries: queries, kv: kv, firstPosition: p0, tokens: tokens, shape: shape, into: out,
                        scratch: scratch, pool: pool, keyStart: keyStart, window: window)
    }
}

/// Floats of scratch `causalAttention` needs.
public func attentionScratchCount(firstPosition p0: Int, tokens: Int, shape: AttentionShape, threads: Int,
                                  keyStart: Int = 0) -> Int {
    if tokens < blockedThreshold {
        return decodeAttentionScratchCount(positions: Array(p0..<(p0 + tokens)), shape: shape, threads: threads)
    }
    return promptAttentionScratchCount(shape: shape, threads: threads)
}

private let blockedThreshold = 8

/// Keys are visited in tiles of 16 positions aligned on absolute positions (multiples of 16),
/// whatever the storage block size, so the order a query's sums are taken in depends only on
/// its own position and span: never on the chunk or batch it comes in.
let attentionTile = 16
