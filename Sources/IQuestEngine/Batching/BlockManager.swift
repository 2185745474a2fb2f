/// Bookkeeping of a KV block pool shared by many sequences: which blocks are free, how many
/// sequences hold each, and the prefix cache.
///
/// Prefix cache: a full block whose every position was computed as prompt is registered under a
/// key that chains the keys of the blocks before it with its own tokens, so equal keys mean equal
/// token prefixes (the chain's tokens are stored and compared on lookup, so a hash collision is a
/// miss, never a wrong hit). When its last holder lets go, a registered block is kept as
/// "cached" (reusable by a later request with the same prefix) until an allocation needs the
/// space: cached blocks are evicted least recently released first. Windowed-pass blocks
/// (IQuestLoopCoder) are registered under the same keys in their own namespace.
public final class BlockManager {
    public let blockCount: Int
    public let blockSize: Int

    public enum Kind: Int, Sendable { case global = 0, local = 1 }

    /// What a registered block holds: the chain key of the previous block and its own tokens.
    private struct Entry {
        var key: UInt64
        var kind: Kind
        var parent: UInt64
        var tokens: [Int]
    }

    private var holders: [Int32]
    private var free: [Int32]
    private var entries: [Entry?]
    private var byKey: [[UInt64: Int32]] = [[:], [:]]
    // Cached (registered, unheld) blocks in release order: a doubly linked list through the arrays.
    private var previous: [Int32]
    private var next: [Int32]
    private var oldest: Int32 = -1
    private var newest: Int32 = -1
    public private(set) var cachedBlocks = 0

    public init(blockCount: Int, blockSize: Int) {
        self.blockCount = blockCount
        self.blockSize = blockSize
        holders = Array(repeating: 0, count: blockCount)
        free = (0..<blockCount).reversed().map { Int32($0) }
        entries = Array(repeating: nil, count: blockCount)
        previous = Array(repeating: -1, count: blockCount)
        next = Array(repeating: -1, count: blockCount)
    }

    /// Blocks some sequence holds.
    public var usedBlocks: Int { blockCount - free.count - cachedBlocks }
    /// Blocks never used or let go unregistered.
    public var freeBlocks: Int { free.count }
    /// Holder counts summed over all blocks (kept as blocks are taken and let go, since the
    /// engine publishes it after every step).
    public private(set) var totalHolds = 0
    /// Blocks an allocation can get (free ones and cached ones it may evict).
    public var availableBlocks: Int { free.count + cachedBlocks }

    public func holderCount(_ block: Int32) -> Int { Int(holders[Int(block)]) }

    /// A block for one holder: a free one, else the least recently released cached one (which
    /// leaves the prefix cache). Nil when every block is held.
    public func allocate() -> Int32? {
        var block = free.popLast()
        if block == nil, oldest >= 0 {
            let victim = oldest
            unlinkCached(victim)
            forget(victim)
            block = victim
        }
        guard let block else { return nil }
        holders[Int(block)] = 1
        totalHolds += 1
        return block
    }

    /// One more holder of `block` (a prefix-cache hit or a shared block).
    public func retain(_ block: Int32) {
        if holders[Int(block)] == 0 { unlinkCached(block) }
        holders[Int(block)] += 1
        totalHolds += 1
    }

    /// One holder fewer; the last one leaves it cached if registered, else free.
    public func release(_ block: Int32) {
        let b = Int(block)
        precondition(holders[b] > 0, "block \(block) released more often than held")
        holders[b] -= 1
        totalHolds -= 1
        guard holders[b] == 0 else { return }
        if entries[b] != nil {
            linkCached(block)
        } else {
            free.append(block)
        }
    }

    /// The chain key of a block of `tokens` after a block with key `parent` (0 for the first).
    public static func key(parent: UInt64, tokens: ArraySlice<Int>) -> UInt64 {
        // FNV-1a over the parent key and the token ids, then a final avalanche (splitmix64).
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func mix(_ v: UInt64) {
            var v = v
            for _ in 0..<8 {
                h = (h ^ (v & 0xff)) &* 0x100_0000_01b3
                v >>= 8
            }
        }
        mix(parent)
        for t in tokens { mix(UInt64(bitPattern: Int64(t))) }
        h ^= h >> 30; h = h &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 27; h = h &* 0x94d0_49bb_1331_11eb
        return h ^ (h >> 31)
    }

    /// Registers a full, held block as holding `tokens` after the prefix keyed `parent`. Returns
    /// its key. A key registered already (another block with the same prefix) stays with that block.
    @discardableResult
    public func register(_ block: Int32, kind: Kind = .global, parent: UInt64, tokens: ArraySlice<Int>) -> UInt64 {
        let key = Self.key(parent: parent, tokens: tokens)
        guard entries[Int(block)] == nil, byKey[kind.rawValue][key] == nil else { return key }
        entries[Int(block)] = Entry(key: key, kind: kind, parent: parent, tokens: Array(tokens))
        byKey[kind.rawValue][key] = block
        return key
    }

    /// The block registered for `tokens` after `parent`, if any (not retained).
    public func lookup(kind: Kind = .global, parent: UInt64, tokens: ArraySlice<Int>) -> (block: Int32, key: UInt64)? {
        let key = Self.key(parent: parent, tokens: tokens)
        guard let block = byKey[kind.rawValue][key], let entry = entries[Int(block)],
              entry.parent == parent, entry.tokens.elementsEqual(tokens) else { return nil }
        return (block, key)
    }

    /// Drops every cached block (they become free); held blocks keep their registration.
    public func clearCache() {
        while oldest >= 0 {
            let block = oldest
            unlinkCached(block)
            forget(block)
            free.append(block)
        }
    }

    private func forget(_ block: Int32) {
        guard let entry = entries[Int(block)] else { return }
        if byKey[entry.kind.rawValue][entry.key] == block { byKey[entry.kind.rawValue][entry.key] = nil }
        entries[Int(block)] = nil
    }

    private func linkCached(_ block: Int32) {
        let b = Int(block)
        previous[b] = newest
        next[b] = -1
        if newest >= 0 { next[Int(newest)] = block } else { oldest = block }
        newest = block
        cachedBlocks += 1
    }

    private func unlinkCached(_ block: Int32) {
        let b = Int(block)
        if previous[b] >= 0 { next[Int(previous[b])] = next[b] } else { oldest = next[b] }
        if next[b] >= 0 { previous[Int(next[b])] = previous[b] } else { newest = previous[b] }
        previous[b] = -1
        next[b] = -1
        cachedBlocks -= 1
    }
}
