// Token byte strings in a trie laid out in depth-first preorder, and the mask walk over it.
// Preorder turns the walk into one forward scan over flat arrays (the automaton state per
// depth in a small array; a dead transition jumps past the subtree) instead of a
// pointer-chasing DFS with an explicit stack.

import Foundation

struct PreorderTrie: Sendable {
    /// Node i (0 = root) is reached by nodeByte[i] from the nearest earlier node of depth
    /// nodeDepth[i] - 1; its subtree is i ..< subtreeEnd[i]; the tokens ending there are
    /// tokenIds[firstToken[i] ..< firstToken[i+1]].
    let nodeByte: [UInt8]
    let nodeDepth: [Int32]
    let subtreeEnd: [Int32]
    let firstToken: [Int32]
    let tokenIds: [Int32]
    /// Longest string in bytes (the walk's state array length - 1).
    let maxDepth: Int

    var nodeCount: Int { nodeByte.count - 1 }

    /// (token id, non-empty bytes) pairs; an id may end several strings only if its bytes repeat.
    init(_ entries: [(Int, [UInt8])]) {
        // Sorted by bytes, consecutive strings share their longest common prefix as trie path:
        // each adds the nodes below that prefix, which is preorder.
        let sorted = entries.sorted { $0.1.lexicographicallyPrecedes($1.1) }
        var nb: [UInt8] = [0], nd: [Int32] = [0], ft: [Int32] = [0], ti: [Int32] = []
        var previous: [UInt8] = []
        var longest = 0
        for (id, b) in sorted {
            var lcp = 0
            while lcp < b.count, lcp < previous.count, b[lcp] == previous[lcp] { lcp += 1 }
            for d in lcp..<b.count {
                nb.append(b[d]); nd.append(Int32(d + 1)); ft.append(Int32(ti.count))
            }
            // The string ends at the last node created (for an exact duplicate, the previous
            // string's node, still the last one: nothing sorts between them).
            ti.append(Int32(id))
            longest = max(longest, b.count)
            previous = b
        }
        ft.append(Int32(ti.count))
        var ends = [Int32](repeating: Int32(nb.count), count: nb.count)
        var open: [Int] = []
        for i in nb.indices {
            while let top = open.last, nd[top] >= nd[i] { ends[top] = Int32(i); open.removeLast() }
            open.append(i)
        }
        nodeByte = nb; nodeDepth = nd; subtreeEnd = ends; firstToken = ft; tokenIds = ti
        maxDepth = longest
    }

    /// The longest token whose bytes begin `bytes`, and its length (nil: no token does). Children
    /// of a node follow it in preorder, sorted by byte, each subtree skipped whole.
    func longestToken(prefixOf bytes: ArraySlice<UInt8>) -> (id: Int, length: Int)? {
        var node = 0, depth = 0
        var best: (id: Int, length: Int)?
        for byte in bytes {
            var child = node + 1
            let end = Int(subtreeEnd[node])
            while child < end, nodeByte[child] != byte { child = Int(subtreeEnd[child]) }
            guard child < end else { break }
            node = child
            depth += 1
            if firstToken[node] < firstToken[node + 1] { best = (Int(tokenIds[Int(firstToken[node])]), depth) }
        }
        return best
    }

    /// Sets the bit of every token whose string the automaton accepts as a continuation from
    /// `state` (stays alive through all its bytes).
    func walk(_ automaton: GrammarAutomaton, from state: Int32, into words: UnsafeMutableBufferPointer<UInt64>) {
        var states = [Int32](repeating: 0, count: maxDepth + 1)
        states[0] = state
        let a = automaton
        states.withUnsafeMutableBufferPointer { st in
        nodeByte.withUnsafeBufferPointer { nb in
        nodeDepth.withUnsafeBufferPointer { nd in
        subtreeEnd.withUnsafeBufferPointer { se in
        firstToken.withUnsafeBufferPointer { ft in
        tokenIds.withUnsafeBufferPointer { ti in
            var table = a.table
            let n = nb.count
            var i = 1
            while i < n {
                let d = Int(nd[i])
                let from = st[d &- 1]
                let byte = nb[i]
                var next = table[Int(from) &* 256 &+ Int(byte)]
                if next == GrammarAutomaton.unknown {
                    next = a.next(from, byte)
                    table = a.table  // the fill may have grown the table
                }
                if next < 0 { i = Int(se[i]); continue }
                st[d] = next
                var t = Int(ft[i])
                let tEnd = Int(ft[i &+ 1])
                while t < tEnd {
                    let id = Int(ti[t])
                    words[id &>> 6] |= UInt64(1) &<< UInt64(id & 63)
                    t &+= 1
                }
                i &+= 1
            }
        } } } } } }
    }
}

/// For a byte class C that some state loops on (next(s, b) == s for every b in C, e.g. a JSON
/// string body), and optionally every well-formed multi-byte UTF-8 character too (a string body
/// returns to itself after each): the tokens made only of such units (allowed from s whatever
/// they are), and the other tokens cut at their first byte that starts no such unit (after the
/// units the state is s again, so only that suffix needs walking). A string-body mask then walks
/// a few thousand suffix nodes instead of the whole trie (most of it non-ASCII tokens without
/// the UTF-8 units, on SentencePiece vocabularies).
final class LoopTable: Sendable {
    let allIn: [UInt64]
    let exceptions: PreorderTrie

    init(_ c: ByteSet, utf8: Bool, bytes: [[UInt8]?]) {
        var words = [UInt64](repeating: 0, count: (bytes.count + 63) / 64)
        var cut: [(Int, [UInt8])] = []
        for (id, b) in bytes.enumerated() {
            guard let b else { continue }
            var i = 0
            while i < b.count {
                if c.contains(b[i]) { i += 1; continue }
                if utf8, let n = Self.utf8Length(b, at: i) { i += n; continue }
                break
            }
            if i < b.count {
                cut.append((id, Array(b[i...])))
            } else {
                words[id >> 6] |= UInt64(1) << UInt64(id & 63)
            }
        }
        allIn = words
        exceptions = PreorderTrie(cut)
    }

    /// Well-formed multi-byte UTF-8 characters (RFC 3629): lead bytes and the ranges of their
    /// continuation bytes.
    static let utf8Forms: [(leads: ClosedRange<UInt8>, continuations: [ClosedRange<UInt8>])] = [
        (0xC2...0xDF, [0x80...0xBF]),
        (0xE0...0xE0, [0xA0...0xBF, 0x80...0xBF]),
        (0xE1...0xEC, [0x80...0xBF, 0x80...0xBF]),
        (0xED...0xED, [0x80...0x9F, 0x80...0xBF]),
        (0xEE...0xEF, [0x80...0xBF, 0x80...0xBF]),
        (0xF0...0xF0, [0x90...0xBF, 0x80...0xBF, 0x80...0xBF]),
        (0xF1...0xF3, [0x80...0xBF, 0x80...0xBF, 0x80...0xBF]),
        (0xF4...0xF4, [0x80...0x8F, 0x80...0xBF, 0x80...0xBF]),
    ]

    /// Length of the complete well-formed multi-byte character starting at `i`, or nil.
    static func utf8Length(_ b: [UInt8], at i: Int) -> Int? {
        guard let form = utf8Forms.first(where: { $0.leads.contains(b[i]) }) else { return nil }
        let n = form.continuations.count + 1
        guard i + n <= b.count else { return nil }
        for (k, range) in form.continuations.enumerated() where !range.contains(b[i + 1 + k]) { return nil }
        return n
    }
}

/// Loop tables per (byte class, UTF-8 units), built on first use and shared by every request
/// on the vocabulary.
final class LoopTableCache: @unchecked Sendable {
    struct Key: Hashable { let c: ByteSet; let utf8: Bool }
    private let lock = NSLock()
    private var tables: [Key: LoopTable] = [:]
    /// Distinct classes kept (each table is at most the vocabulary's size again).
    static let limit = 32

    func table(_ c: ByteSet, utf8: Bool, bytes: [[UInt8]?]) -> LoopTable {
        let key = Key(c: c, utf8: utf8)
        lock.lock()
        let cached = tables[key]
        lock.unlock()
        if let cached { return cached }
        let t = LoopTable(c, utf8: utf8, bytes: bytes)
        lock.lock()
        if tables.count >= Self.limit { tables.removeAll() }
        tables[key] = t
        lock.unlock()
        return t
    }
}
