import IQuestKernels

/// What a model keeps per token: keys and values of every layer (after RoPE; how they are
/// encoded is the pool's choice, `KVCacheTypes`), plus for a
/// windowed second pass (IQuestLoopCoder) a second set of blocks of which a sequence only needs
/// the last `localWindow` positions.
public struct KVLayout: Sendable, Equatable {
    public let layers: Int
    /// kvHeads · headDim.
    public let kvWidth: Int
    /// Key/value heads (kvWidth is a multiple of it).
    public let kvHeads: Int
    /// Keys each query of the windowed pass sees; nil for models without one.
    public let localWindow: Int?

    public init(layers: Int, kvWidth: Int, kvHeads: Int = 1, localWindow: Int? = nil) {
        self.layers = layers
        self.kvWidth = kvWidth
        self.kvHeads = max(1, kvHeads)
        self.localWindow = localWindow
    }

    public var headDim: Int { kvWidth / kvHeads }

    /// First position a windowed-pass query at `position` reads: the one rule behind which local
    /// blocks a sequence must hold before a step and may give back after it.
    @inline(__always)
    public static func windowStart(query position: Int, window: Int) -> Int { max(0, position - window + 1) }

    /// Bytes of one block of `blockSize` positions stored as `types`.
    public func bytesPerBlock(blockSize: Int, types: KVCacheTypes = .f32) -> Int {
        layers * blockSize * kvHeads * types.bytesPerHeadPosition(headDim: headDim)
    }

    /// Bytes one token takes in every layer (pass 1 only; a windowed pass adds at most its window).
    public func bytesPerToken(types: KVCacheTypes) -> Int { bytesPerBlock(blockSize: 1, types: types) }
}

/// A fixed number of KV blocks shared by many sequences, stored as `types` (f32, f16, bf16,
/// q8_0 or q4_0, keys and values chosen separately). Block b of layer l holds keys then values
/// of `blockSize` positions, each kv head's rows together: keys [kvHeads, blockSize, key row]
/// then values [kvHeads, blockSize, value row], where a row is one head's headDim elements in the
/// type's encoding. One layer's blocks sit together, `blockStride` bytes apart, so attention over
/// one kv head reads contiguous runs. Which block belongs to whom is the caller's business
/// (block tables); this type only owns the memory. Pages are touched as blocks are first
/// written, so an oversized pool costs address space, not RSS.
public final class KVBlockPool {
    public let layout: KVLayout
    public let types: KVCacheTypes
    public let blockSize: Int
    public let blockCount: Int
    /// Bytes from one block's keys to the next block's keys within a layer.
    public let blockStride: Int
    /// Bytes of one key row and one value row (one kv head, one position).
    public let keyRowBytes: Int
    public let valueRowBytes: Int
    private let storage: UnsafeMutableRawPointer

    /// Positions per block unless a caller asks otherwise (vLLM's default).
    public static let defaultBlockSize = 16

    /// `types` must suit the layout's head size (`KVCacheTypes.refusal(headDim:)`, checked where
    /// a user chooses them).
    public init(layout: KVLayout, blockCount: Int, blockSize: Int = KVBlockPool.defaultBlockSize, types: KVCacheTypes = .f32) {
        precondition(blockSize > 0 && blockSize & (blockSize - 1) == 0, "block size must be a power of two")
        precondition(types.refusal(headDim: layout.headDim) == nil, "KV types \(types) cannot hold heads of \(layout.headDim)")
        self.layout = layout
        self.types = types
        self.blockSize = blockSize
        self.blockCount = max(0, blockCount)
        keyRowBytes = types.keys.rowBytes(headDim: layout.headDim)
        valueRowBytes = types.values.rowBytes(headDim: layout.headDim)
        blockStride = blockSize * layout.kvHeads * (keyRowBytes + valueRowBytes)
        storage = .allocate(byteCount: max(1, layout.layers * self.blockCount * blockStride), alignment: 64)
    }

    deinit { storage.deallocate() }

    /// Keys of `block` in `layer`: [kvHeads, blockSize, key row].
    @inline(__always) public func keys(layer: Int, block: Int) -> UnsafeMutableRawPointer {
        storage + (layer * blockCount + block) * blockStride
    }

    /// Values of `block` in `layer`: [kvHeads, blockSize, value row].
    @inline(__always) public func values(layer: Int, block: Int) -> UnsafeMutableRawPointer {
        keys(layer: layer, block: block) + blockSize * layout.kvHeads * keyRowBytes
    }

    /// One layer's rows of a sequence whose block table is `table`.
    @inline(__always) public func rows(layer: Int, table: UnsafePointer<Int32>) -> KVRows {
        KVRows(keys: keys(layer: layer, block: 0), values: values(layer: layer, block: 0),
               keyKind: types.keys.kind, valueKind: types.values.kind, table: table, blockSize: blockSize,
               blockStride: blockStride, keyHeadStride: blockSize * keyRowBytes, keyRowStride: keyRowBytes,
               valueHeadStride: blockSize * valueRowBytes, valueRowStride: valueRowBytes)
    }

    /// The key row of kv head `head` in `slot` of `block` (`keyRowBytes` bytes).
    @inline(__always) public func keyRow(layer: Int, block: Int, head: Int, slot: Int) -> UnsafeMutableRawPointer {
        keys(layer: layer, block: block) + (head * blockSize + slot) * keyRowBytes
    }

    /// The value row of kv head `head` in `slot` of `block` (`valueRowBytes` bytes).
    @inline(__always) public func valueRow(layer: Int, block: Int, head: Int, slot: Int) -> UnsafeMutableRawPointer {
        values(layer: layer, block: block) + (head * blockSize + slot) * valueRowBytes
    }
}
