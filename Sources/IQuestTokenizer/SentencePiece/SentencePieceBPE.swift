/// A piece of the normalized text and its id; nil id means unknown.
struct SentencePieceSegment {
    let range: Range<Int>
    let id: Int?
}

/// sentencepiece's `bpe::Model::SampleEncode` without dropout: start from characters (user-defined
/// pieces frozen whole), repeatedly merge the adjacent pair whose merged piece has the highest
/// score (ties: leftmost), then re-split merged UNUSED pieces into the pieces they came from.
/// Only NORMAL, USER_DEFINED and UNUSED pieces can result from a merge.
enum SentencePieceBPE {
    private struct Symbol {
        var prev: Int
        var next: Int
        var start: Int
        var length: Int
        let frozen: Bool
    }

    private struct Pair {
        let score: Float
        let left: Int
        let right: Int
        let size: Int

        /// sentencepiece's `SymbolPairComparator`: `a` ranks below `b` (bit-pattern score order,
        /// then larger `left` ranks lower).
        static func ranksBelow(_ a: Pair, _ b: Pair) -> Bool {
            let i1 = Int32(bitPattern: a.score.bitPattern)
            let i2 = Int32(bitPattern: b.score.bitPattern)
            if (i1 & i2) < 0 { return i1 > i2 || (i1 == i2 && a.left > b.left) }
            let less = (i1 ^ i2) < 0 ? i1 < 0 : i1 < i2
            return less || (i1 == i2 && a.left > b.left)
        }
    }

    static func encode(_ text: [UInt8], model: SentencePieceModel) -> [SentencePieceSegment] {
        guard !text.isEmpty else { return [] }
        var symbols: [Symbol] = []
        symbols.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            let frozen: Bool
            let length: Int
            if let m = model.userDefined.match(text, at: i) {
                frozen = true
                length = m.length
            } else {
                frozen = false
                length = min(SentencePieceModel.charLength(text[i]), text.count - i)
            }
            let index = symbols.count
            symbols.append(Symbol(prev: index - 1, next: i + length < text.count ? index + 1 : -1,
                                  start: i, length: length, frozen: frozen))
            i += length
        }

        var heap = PairHeap()
        var reverseMerges: [[UInt8]: (Range<Int>, Range<Int>)] = [:]
        func mergeable(_ bytes: ArraySlice<UInt8>) -> Int? {
            guard let id = model.idsByBytes[Array(bytes)] else { return nil }
            switch model.types[id] {
            case .normal, .userDefined, .unused, .undefined: return id
            default: return nil
            }
        }
        func addPair(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let l = symbols[left], r = symbols[right]
            if l.frozen || r.frozen { return }
            let range = l.start..<(l.start + l.length + r.length)
            guard let id = mergeable(text[range]) else { return }
            heap.push(Pair(score: model.scores[id], left: left, right: right, size: range.count))
            if model.types[id] == .unused {
                reverseMerges[Array(text[range])] = (l.start..<(l.start + l.length), r.start..<(r.start + r.length))
            }
        }
        for k in 0..<(symbols.count - 1) { addPair(k, k + 1) }

        while let top = heap.pop() {
            let l = symbols[top.left], r = symbols[top.right]
            if l.length == 0 || r.length == 0 || l.length + r.length != top.size { continue }
            symbols[top.left].length += r.length
            symbols[top.left].next = r.next
            if r.next >= 0 { symbols[r.next].prev = top.left }
            symbols[top.right].length = 0
            addPair(symbols[top.left].prev, top.left)
            addPair(top.left, symbols[top.left].next)
        }

        var out: [SentencePieceSegment] = []
        out.reserveCapacity(symbols.count)
        func resegment(_ range: Range<Int>, depth: Int) {
            let id = model.idsByBytes[Array(text[range])]
            if depth > 100 {
                out.append(SentencePieceSegment(range: range, id: id))
                return
            }
            guard let id, let _ = mergeable(text[range]) else {
                out.append(SentencePieceSegment(range: range, id: model.unkId))
                return
            }
            guard model.types[id] == .unused else {
                out.append(SentencePieceSegment(range: range, id: id))
                return
            }
            guard let (a, b) = reverseMerges[Array(text[range])] else {
                out.append(SentencePieceSegment(range: range, id: model.unkId))
                return
            }
            resegment(a, depth: depth + 1)
            resegment(b, depth: depth + 1)
        }
        var index = 0
        while index != -1 {
            let s = symbols[index]
            resegment(s.start..<(s.start + s.length), depth: 0)
            index = s.next
        }
        return out
    }

    /// A max-heap of pairs under `Pair.ranksBelow`.
    private struct PairHeap {
        private var items: [Pair] = []

        mutating func push(_ p: Pair) {
            items.append(p)
            var c = items.count - 1
            while c > 0 {
                let parent = (c - 1) / 2
                guard Pair.ranksBelow(items[parent], items[c]) else { break }
                items.swapAt(parent, c)
                c = parent
            }
        }

        mutating func pop() -> Pair? {
            guard let first = items.first else { return nil }
            let last = items.removeLast()
            if !items.isEmpty {
                items[0] = last
                var p = 0
                while true {
                    let a = 2 * p + 1, b = a + 1
                    var best = p
                    if a < items.count, Pair.ranksBelow(items[best], items[a]) { best = a }
                    if b < items.count, Pair.ranksBelow(items[best], items[b]) { best = b }
                    if best == p { break }
                    items.swapAt(p, best)
                    p = best
                }
            }
            return first
        }
    }
}
