/// Byte-pair merges over interned symbols.
///
/// Symbols are strings in the byte-level alphabet. Each distinct string gets an id: vocabulary
/// tokens keep their token id, and merge parts or results missing from the vocabulary get ids
/// from `vocabularySize` upward. A merge is then a lookup from a pair of ids to (rank, result).
struct BPEMerges: Sendable {
    let vocabularySize: Int
    /// `left << 32 | right` → `rank << 32 | merged`.
    private let pairs: [UInt64: UInt64]
    /// The symbol of each single byte.
    let byteSymbols: [Int32]

    init(tokenIds: [String: Int], vocabularySize: Int, merges: [String]) throws(TokenizerError) {
        var interned = tokenIds.mapValues { Int32($0) }
        var nextId = Int32(vocabularySize)
        func intern(_ s: String) -> Int32 {
            if let id = interned[s] { return id }
            let id = nextId
            nextId += 1
            interned[s] = id
            return id
        }
        var pairs: [UInt64: UInt64] = [:]
        pairs.reserveCapacity(merges.count)
        for (rank, line) in merges.enumerated() {
            // The separator is the first space after the first character, as llama.cpp reads it.
            let bytes = Array(line.utf8)
            guard bytes.count >= 3, let sep = bytes[1...].firstIndex(of: 0x20), sep + 1 < bytes.count else {
                throw .malformedMerge(index: rank, text: line)
            }
            let left = String(decoding: bytes[..<sep], as: UTF8.self)
            let right = String(decoding: bytes[(sep + 1)...], as: UTF8.self)
            let key = UInt64(UInt32(intern(left))) << 32 | UInt64(UInt32(intern(right)))
            let merged = intern(left + right)
            // The first occurrence wins, like llama.cpp's `emplace`.
            if pairs[key] == nil {
                pairs[key] = UInt64(rank) << 32 | UInt64(UInt32(merged))
            }
        }
        self.pairs = pairs
        self.vocabularySize = vocabularySize
        self.byteSymbols = (0..<256).map { b in
            intern(String(Character(Unicode.Scalar(ByteLevelAlphabet.scalarForByte[b]) ?? " ")))
        }
    }

    func lookup(_ left: Int32, _ right: Int32) -> (rank: Int32, merged: Int32)? {
        guard let v = pairs[UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))] else { return nil }
        return (Int32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v & 0xFFFF_FFFF))
    }
}

/// Scratch space for merging one word; reused across the words of one `encode` call.
struct BPEWorkspace {
    private var ids: [Int32] = []
    private var starts: [Int32] = []
    private var lengths: [Int32] = []
    private var prev: [Int32] = []
    private var next: [Int32] = []
    /// Candidate merges keyed by `rank << 32 | left index`, so the smallest key is the
    /// lowest-ranked pair and, among equal ranks, the leftmost (llama.cpp's queue order).
    private var heap = MinHeap()

    /// Appends the tokens of one pre-tokenized word (its raw bytes) to `out`.
    mutating func encode(_ word: ArraySlice<UInt8>, merges: BPEMerges, into out: inout [Int]) {
        let n = word.count
        guard n > 0 else { return }
        ids.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        prev.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        heap.removeAll()
        for (k, b) in word.enumerated() {
            ids.append(merges.byteSymbols[Int(b)])
            starts.append(Int32(k))
            lengths.append(1)
            prev.append(Int32(k - 1))
            next.append(k + 1 < n ? Int32(k + 1) : -1)
        }
        for k in 0..<(n - 1) { push(k, merges) }

        while let entry = heap.pop() {
            let left = Int(entry.key & 0xFFFF_FFFF)
            let right = Int(next[left])
            // Skip candidates made stale by an earlier merge on either side.
            guard lengths[left] > 0, right >= 0, ids[left] == entry.leftId, ids[right] == entry.rightId else { continue }
            ids[left] = entry.merged
            lengths[left] += lengths[right]
            lengths[right] = 0
            next[left] = next[right]
            if next[right] >= 0 { prev[Int(next[right])] = Int32(left) }
            if prev[left] >= 0 { push(Int(prev[left]), merges) }
            push(left, merges)
        }

        var k = 0
        let base = word.startIndex
        while k >= 0 {
            let id = ids[k]
            if Int(id) < merges.vocabularySize {
                out.append(Int(id))
            } else {
                // A merge produced text that is not a token: fall back to the single bytes.
                let s = base + Int(starts[k])
                for b in word[s..<(s + Int(lengths[k]))] {
                    let byteId = merges.byteSymbols[Int(b)]
                    if Int(byteId) < merges.vocabularySize { out.append(Int(byteId)) }
                }
            }
            k = Int(next[k])
        }
    }

    private mutating func push(_ left: Int, _ merges: BPEMerges) {
        let right = Int(next[left])
        guard right >= 0, let m = merges.lookup(ids[left], ids[right]) else { return }
        heap.push(.init(key: UInt64(UInt32(m.rank)) << 32 | UInt64(left),
                        leftId: ids[left], rightId: ids[right], merged: m.merged))
    }
}

/// A binary min-heap of merge candidates.
struct MinHeap {
    struct Entry {
        var key: UInt64
        var leftId: Int32
        var rightId: Int32
        var merged: Int32
    }

    private var items: [Entry] = []

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ e: Entry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].key < items[parent].key else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var smallest = i
                if l < items.count, items[l].key < items[smallest].key { smallest = l }
                if r < items.count, items[r].key < items[smallest].key { smallest = r }
                if smallest == i { break }
                items.swapAt(i, smallest)
                i = smallest
            }
        }
        return top
    }
}
