/// Keys and values of every layer for one sequence: per layer two [capacity, kvWidth] f32
/// buffers, position-major, keys stored after RoPE. Memory is reserved up front but pages are
/// only touched as positions fill.
public final class KVCache: SequenceCache {
    public let layers: Int
    public let capacity: Int
    public let kvWidth: Int
    public private(set) var count: Int = 0
    private let storage: UnsafeMutablePointer<Float>

    public init(layers: Int, capacity: Int, kvWidth: Int) {
        self.layers = layers
        self.capacity = capacity
        self.kvWidth = kvWidth
        storage = UnsafeMutablePointer<Float>.allocate(capacity: max(1, 2 * layers * capacity * kvWidth))
    }

    deinit { storage.deallocate() }

    /// Keys of `layer`: [capacity, kvWidth].
    public func keys(layer: Int) -> UnsafeMutablePointer<Float> {
        storage + (2 * layer) * capacity * kvWidth
    }

    /// Values of `layer`: [capacity, kvWidth].
    public func values(layer: Int) -> UnsafeMutablePointer<Float> {
        storage + (2 * layer + 1) * capacity * kvWidth
    }

    /// Marks `n` more positions as filled (after every layer wrote them).
    public func advance(by n: Int) { count += n }

    public func truncate(to length: Int) { count = max(0, min(count, length)) }
}
