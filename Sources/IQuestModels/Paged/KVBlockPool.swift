import IQuestKernels

/// What a model keeps per token: keys and values of every layer (f32, after RoPE), plus for a
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

    /// Bytes of one block of `blockSize` positions.
    public func bytesPerBlock(blockSize: Int) -> Int { layers * 2 * blockSize * kvWidth * MemoryLayout<Float>.size }
}

/// A fixed number of KV blocks shared by many sequences. Block b of layer l holds keys then
/// values of `blockSize` positions, each kv head's rows together: storage
/// [layers, blocks, 2, kvHeads, blockSize, headDim], so one layer's blocks sit together, a
/// block's keys are `blockStride` floats after the previous block's, and attention over one kv
/// head reads contiguous runs of blockSize·headDim floats. Which block belongs to whom is the caller's business (block tables); this type only
/// owns the memory. Pages are touched as blocks are first written, so an oversized pool costs
/// address space, not RSS.
public final class KVBlockPool {
    public let layout: KVLayout
    public let blockSize: Int
    public let blockCount: Int
    /// Floats from one block's keys to the next block's keys within a layer.
    public let blockStride: Int
    private let storage: UnsafeMutablePointer<Float>

    /// Positions per block unless a caller asks otherwise (vLLM's default).
    public static let defaultBlockSize = 16

    public init(layout: KVLayout, blockCount: Int, blockSize: Int = KVBlockPool.defaultBlockSize) {
        precondition(blockSize > 0 && blockSize & (blockSize - 1) == 0, "block size must be a power of two")
        self.layout = layout
        self.blockSize = blockSize
        self.blockCount = max(0, blockCount)
        blockStride = 2 * blockSize * layout.kvWidth
        storage = .allocate(capacity: max(1, layout.layers * self.blockCount * blockStride))
    }

    deinit { storage.deallocate() }

    /// Keys of `block` in `layer`: [kvHeads, blockSize, headDim].
    @inline(__always) public func keys(layer: Int, block: Int) -> UnsafeMutablePointer<Float> {
        storage + (layer * blockCount + block) * blockStride
    }

    /// Values of `block` in `layer`: [kvHeads, blockSize, headDim].
    @inline(__always) public func values(layer: Int, block: Int) -> UnsafeMutablePointer<Float> {
        keys(layer: layer, block: block) + blockSize * layout.kvWidth
    }

    /// One layer's rows of a sequence whose block table is `table`.
    @inline(__always) public func rows(layer: Int, table: UnsafePointer<Int32>) -> KVRows {
        KVRows(keys: keys(layer: layer, block: 0), values: values(layer: layer, block: 0), table: table,
               blockSize: blockSize, blockStride: blockStride, headStride: blockSize * layout.headDim, rowStride: layout.headDim)
    }

    /// Floats from a block's keys (or values) to the row of kv head `head` in `slot`.
    @inline(__always) public func rowOffset(head: Int, slot: Int) -> Int {
        (head * blockSize + slot) * layout.headDim
    }
}
