/// HF tokenizers' `models::BPE` applied to one pre-tokenized word (no dropout, no cache): characters
/// looked up in the vocabulary (missing ones become `<0xNN>` byte tokens with `byte_fallback`, else
/// the unknown token, consecutive ones fused with `fuse_unk`), then the adjacent pair of lowest merge
/// rank is merged until none is left (ties: leftmost).
struct HFBPEModel: Sendable {
    let vocab: [String: Int]
    let tokens: [String]
    /// (left id, right id) → (rank, merged id).
    let merges: [PairKey: (rank: Int, id: Int)]
    let unkId: Int?
    let fuseUnk: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool

    struct PairKey: Hashable {
        let left: Int
        let right: Int
    }

    func encode(_ word: String, into out: inout [Int]) {
        if ignoreMerges, let id = vocab[word] {
            out.append(id)
            return
        }
        var ids: [Int] = []
        ids.reserveCapacity(word.unicodeScalars.count)
        var pendingUnk = false
        for scalar in word.unicodeScalars {
            let s = String(scalar)
            if let id = vocab[s] {
                if pendingUnk, let unk = unkId { ids.append(unk) }
                pendingUnk = false
                ids.append(id)
                continue
            }
            if byteFallback {
                let byteIds = s.utf8.map { vocab[Self.bytePiece($0)] }
                if byteIds.allSatisfy({ $0 != nil }) {
                    ids += byteIds.compactMap { $0 }
                    continue
                }
            }
            guard let unk = unkId else { continue }
            if pendingUnk && !fuseUnk { ids.append(unk) }
            pendingUnk = true
        }
        if pendingUnk, let unk = unkId { ids.append(unk) }
        mergeAll(&ids)
        out += ids
    }

    static func bytePiece(_ b: UInt8) -> String {
        let hex = String(b, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }

    private struct Candidate {
        let rank: Int
        let pos: Int
        let id: Int
        /// Min-heap order: lower rank first, then lower position.
        static func before(_ a: Candidate, _ b: Candidate) -> Bool {
            a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos
        }
    }

    private func mergeAll(_ ids: inout [Int]) {
        guard ids.count > 1 else { return }
        var symbols = ids
        var alive = [Bool](repeating: true, count: ids.count)
        var prev = Array(-1..<(ids.count - 1))
        var next = Array(1...ids.count)
        next[ids.count - 1] = -1
        var heap: [Candidate] = []
        func push(_ c: Candidate) {
            heap.append(c)
            var i = heap.count - 1
            while i > 0 {
                let p = (i - 1) / 2
                guard Candidate.before(heap[i], heap[p]) else { break }
                heap.swapAt(i, p)
                i = p
            }
        }
        func pop() -> Candidate? {
            guard let top = heap.first else { return nil }
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var i = 0
                while true {
                    let a = 2 * i + 1, b = a + 1
                    var m = i
                    if a < heap.count, Candidate.before(heap[a], heap[m]) { m = a }
                    if b < heap.count, Candidate.before(heap[b], heap[m]) { m = b }
                    if m == i { break }
                    heap.swapAt(i, m)
                    i = m
                }
            }
            return top
        }
        for i in 0..<(ids.count - 1) {
            if let m = merges[PairKey(left: ids[i], right: ids[i + 1])] { push(Candidate(rank: m.rank, pos: i, id: m.id)) }
        }
        while let top = pop() {
            guard alive[top.pos], next[top.pos] != -1 else { continue }
            let right = next[top.pos]
            guard let m = merges[PairKey(left: symbols[top.pos], right: symbols[right])], m.id == top.id else { continue }
            symbols[top.pos] = m.id
            alive[right] = false
            next[top.pos] = next[right]
            if next[right] != -1 { prev[next[right]] = top.pos }
            if prev[top.pos] != -1, let pm = merges[PairKey(left: symbols[prev[top.pos]], right: m.id)] {
                push(Candidate(rank: pm.rank, pos: prev[top.pos], id: pm.id))
            }
            if next[top.pos] != -1, let nm = merges[PairKey(left: m.id, right: symbols[next[top.pos]])] {
                push(Candidate(rank: nm.rank, pos: top.pos, id: nm.id))
            }
        }
        ids.removeAll(keepingCapacity: true)
        var i = 0
        while i != -1 {
            ids.append(symbols[i])
            i = next[i]
        }
    }
}
