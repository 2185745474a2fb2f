/// The cache IQuestLoopCoder declares: pass 1 keeps every position (a `KVCache`), pass 2 keeps
/// only the last `window` positions per layer in a ring (slot = position mod window), since its
/// local attention never looks further back. Pass-2 memory is bounded by the window whatever the
/// context length.
public final class LoopCache: SequenceCache {
    public let global: KVCache
    public let window: Int
    public let kvWidth: Int
    private let ring: UnsafeMutablePointer<Float>   // [layers, 2 (k, v), window, kvWidth]

    public init(layers: Int, capacity: Int, kvWidth: Int, window: Int) {
        global = KVCache(layers: layers, capacity: capacity, kvWidth: kvWidth)
        self.window = window
        self.kvWidth = kvWidth
        ring = .allocate(capacity: max(1, layers * 2 * window * kvWidth))
    }

    deinit { ring.deallocate() }

    public var count: Int { global.count }
    public var capacity: Int { global.capacity }

    /// Pass-2 keys of `layer` for `position` (which must be one of the last `window` written).
    public func localKeys(layer: Int, position: Int) -> UnsafeMutablePointer<Float> {
        ring + ((layer * 2) * window + position % window) * kvWidth
    }

    public func localValues(layer: Int, position: Int) -> UnsafeMutablePointer<Float> {
        ring + ((layer * 2 + 1) * window + position % window) * kvWidth
    }

    /// Positions whose pass-2 entries the ring holds: the last `window` before `count`.
    public var localPositions: Range<Int> { max(0, count - window)..<count }

    /// Shortening by one token keeps every entry the next step needs; shortening further would
    /// need pass-2 entries the ring has overwritten, so only a full reset is allowed then.
    public func truncate(to length: Int) {
        let target = max(0, min(count, length))
        if target == 0 || count - target <= 1 {
            global.truncate(to: target)
        } else {
            global.truncate(to: 0)
        }
    }
}
