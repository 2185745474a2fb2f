import IQuestModels

/// The blocks of one sequence in a shared pool, and the rules for growing, sharing and letting
/// go of them (the scheduler decides when; this type keeps the tables and the counts right).
final class SequenceBlocks {
    /// Global (pass-1) block ids by block index.
    private(set) var blocks: [Int32] = []
    /// Windowed-pass block ids by block index, −1 where none is held (Loop models only).
    private(set) var localBlocks: [Int32] = []
    /// Positions whose keys/values are in the blocks.
    private(set) var count = 0
    /// Positions [0, promptEnd) were computed as prompt rows: only blocks inside it are offered
    /// to the prefix cache, so a hit always gives the numbers a cold prompt would.
    private(set) var promptEnd = 0
    /// Chain keys of the blocks registered (or offered) so far, by block index.
    private var keys: [UInt64] = []

    let manager: BlockManager
    let window: Int?

    init(manager: BlockManager, window: Int?) {
        self.manager = manager
        self.window = window
    }

    private var blockSize: Int { manager.blockSize }

    /// Holds the longest cached prefix of `tokens` that leaves at least one token to compute
    /// (the last prompt token must run to give logits) and, for a windowed model, whose window
    /// blocks are cached too. Returns the positions it covers. The sequence must be empty.
    func adoptCachedPrefix(of tokens: [Int]) -> Int {
        precondition(count == 0 && blocks.isEmpty, "prefix adoption needs an empty sequence")
        let b = blockSize
        var found: [(block: Int32, key: UInt64)] = []
        var parent: UInt64 = 0
        for i in 0..<((tokens.count - 1) / b) {
            guard let hit = manager.lookup(parent: parent, tokens: tokens[(i * b)..<((i + 1) * b)]) else { break }
            found.append(hit)
            parent = hit.key
        }
        var n = found.count
        var local: [Int: Int32] = [:]
        if let window {
            // Shorten until the windowed pass's blocks for the last W−1 positions are cached.
            while n > 0 {
                local.removeAll()
                let first = KVLayout.windowStart(query: n * b, window: window) / b
                for i in first..<n {
                    let parentKey = i == 0 ? 0 : found[i - 1].key
                    guard let hit = manager.lookup(kind: .local, parent: parentKey, tokens: tokens[(i * b)..<((i + 1) * b)]) else { break }
                    local[i] = hit.block
                }
                if local.count == n - first { break }
                n -= 1
            }
            if n == 0 { local.removeAll() }
        }
        for i in 0..<n {
            manager.retain(found[i].block)
            blocks.append(found[i].block)
            keys.append(found[i].key)
        }
        if window != nil {
            localBlocks = Array(repeating: -1, count: n)
            for (i, block) in local {
                manager.retain(block)
                localBlocks[i] = block
            }
        }
        count = n * b
        promptEnd = count
        return count
    }

    /// Blocks still to allocate so positions up to `end` (exclusive) can be written.
    func blocksNeeded(through end: Int) -> Int {
        let b = blockSize
        var needed = max(0, (end + b - 1) / b - blocks.count)
        if let window, end > count {
            let first = KVLayout.windowStart(query: count, window: window) / b
            for i in first...((end - 1) / b) where i >= localBlocks.count || localBlocks[i] < 0 { needed += 1 }
        }
        return needed
    }

    /// Allocates what positions [count, end) need. False when the pool ran out (what was
    /// allocated stays with the sequence and is used by a later try or released with it).
    func reserve(through end: Int) -> Bool {
        let b = blockSize
        while blocks.count * b < end {
            guard let block = manager.allocate() else { return false }
            blocks.append(block)
        }
        if let window, end > count {
            let first = KVLayout.windowStart(query: count, window: window) / b
            let last = (end - 1) / b
            if localBlocks.count <= last { localBlocks += Array(repeating: -1, count: last + 1 - localBlocks.count) }
            for i in first...last where localBlocks[i] < 0 {
                guard let block = manager.allocate() else { return false }
                localBlocks[i] = block
            }
        }
        return true
    }

    /// Records that positions up to `end` now hold `tokens[0..<end]`'s keys/values (computed as
    /// prompt rows when `asPrompt`); offers newly full prompt blocks to the prefix cache and gives
    /// back windowed-pass blocks no later query can see.
    func commit(through end: Int, tokens: [Int], asPrompt: Bool) {
        if asPrompt && promptEnd == count { promptEnd = end }
        count = end
        let b = blockSize
        while (keys.count + 1) * b <= promptEnd {
            let i = keys.count
            let parent = keys.last ?? 0
            let slice = tokens[(i * b)..<((i + 1) * b)]
            keys.append(manager.register(blocks[i], parent: parent, tokens: slice))
            if window != nil, i < localBlocks.count, localBlocks[i] >= 0 {
                manager.register(localBlocks[i], kind: .local, parent: parent, tokens: slice)
            }
        }
        if let window {
            let keepFrom = KVLayout.windowStart(query: count, window: window) / b
            for i in 0..<min(keepFrom, localBlocks.count) where localBlocks[i] >= 0 {
                manager.release(localBlocks[i])
                localBlocks[i] = -1
            }
        }
    }

    /// Gives back blocks wholly past `count`: a verification step reserved and wrote rows for
    /// drafts that were rejected. Rows past `count` inside a kept block stay as garbage that the
    /// next step overwrites before any query reads it (a query at p reads positions ≤ p only),
    /// and none of these blocks was offered to the prefix cache (only prompt rows are).
    func dropBlocksPastCount() {
        let b = blockSize
        let keep = (count + b - 1) / b
        while blocks.count > keep, let block = blocks.popLast() { manager.release(block) }
        if window != nil {
            for i in keep..<max(keep, localBlocks.count) where localBlocks[i] >= 0 {
                manager.release(localBlocks[i])
                localBlocks[i] = -1
            }
        }
    }

    /// Lets go of every block (registered ones stay cached) and empties the sequence.
    func releaseAll() {
        for block in blocks { manager.release(block) }
        for block in localBlocks where block >= 0 { manager.release(block) }
        blocks.removeAll()
        localBlocks.removeAll()
        keys.removeAll()
        count = 0
        promptEnd = 0
    }

    /// Blocks this sequence holds (both kinds).
    var heldBlocks: Int { blocks.count + localBlocks.lazy.filter { $0 >= 0 }.count }

    /// The model's view of the step appending `tokens[count..<end]`.
    func entry(tokens: [Int], end: Int, phase: BatchPhase, logits: LogitsSelection?) -> BatchEntry {
        BatchEntry(tokens: Array(tokens[count..<end]), position: count, blocks: blocks, localBlocks: localBlocks,
                   phase: phase, logits: logits)
    }
}
