// A tokenizer's vocabulary as byte strings, arranged in a trie for mask computation. Built once
// per loaded model and shared by every request (immutable after init).
//
// Token bytes come from the tokenizer (byte-level BPE pieces decoded from the byte alphabet,
// SentencePiece ▁ as a space and <0xNN> byte-fallback pieces as the raw byte). Special tokens
// (control, unknown) have no bytes here and are never allowed inside a constraint; stop ids are
// allowed only where the constraint is complete.

public struct TokenVocabulary: Sendable {
    public let size: Int
    public let stopIds: [Int]
    /// Trie in flat arrays: node n's children are edges firstEdge[n] ..< firstEdge[n+1], sorted
    /// by byte; tokens ending at n are tokenIds[firstToken[n] ..< firstToken[n+1]].
    let firstEdge: [Int32]
    let edgeByte: [UInt8]
    let edgeChild: [Int32]
    let firstToken: [Int32]
    let tokenIds: [Int32]
    /// Per token id its bytes (nil: never allowed inside a constraint).
    public let bytes: [[UInt8]?]

    public var nodeCount: Int { firstEdge.count - 1 }

    /// `bytes[id]` nil or empty for special tokens; `stopIds` end generation.
    public init(bytes: [[UInt8]?], stopIds: [Int]) {
        size = bytes.count
        self.stopIds = stopIds
        let stops = Set(stopIds)
        var clean = bytes
        for id in stops where id >= 0 && id < clean.count { clean[id] = nil }
        for (id, b) in clean.enumerated() where b?.isEmpty ?? false { clean[id] = nil }
        self.bytes = clean
        // Build a pointer trie, then flatten it breadth-first.
        var children: [[UInt8: Int32]] = [[:]]
        var ending: [[Int32]] = [[]]
        for (id, b) in clean.enumerated() {
            guard let b else { continue }
            var n = 0
            for byte in b {
                if let c = children[n][byte] { n = Int(c) } else {
                    children.append([:]); ending.append([])
                    let c = Int32(children.count - 1)
                    children[n][byte] = c
                    n = Int(c)
                }
            }
            ending[n].append(Int32(id))
        }
        var order: [Int] = [0]
        var newIndex = [Int32](repeating: 0, count: children.count)
        var head = 0
        while head < order.count {
            let n = order[head]; head += 1
            for byte in children[n].keys.sorted() {
                let c = Int(children[n][byte]!)
                newIndex[c] = Int32(order.count)
                order.append(c)
            }
        }
        var fe: [Int32] = [], eb: [UInt8] = [], ec: [Int32] = [], ft: [Int32] = [], ti: [Int32] = []
        for n in order {
            fe.append(Int32(eb.count))
            ft.append(Int32(ti.count))
            for byte in children[n].keys.sorted() {
                eb.append(byte)
                ec.append(newIndex[Int(children[n][byte]!)])
            }
            ti.append(contentsOf: ending[n])
        }
        fe.append(Int32(eb.count))
        ft.append(Int32(ti.count))
        firstEdge = fe; edgeByte = eb; edgeChild = ec; firstToken = ft; tokenIds = ti
    }
}

/// A set of allowed token ids (bit per id).
public struct TokenMask: Equatable, Sendable {
    public var words: [UInt64]
    public let size: Int

    public init(size: Int) {
        self.size = size
        words = [UInt64](repeating: 0, count: (size + 63) / 64)
    }

    @inline(__always) public func allows(_ id: Int) -> Bool {
        id >= 0 && id < size && words[id >> 6] & (UInt64(1) << UInt64(id & 63)) != 0
    }

    @inline(__always) public mutating func insert(_ id: Int) {
        words[id >> 6] |= UInt64(1) << UInt64(id & 63)
    }

    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }
    public var allowedIds: [Int] { (0..<size).filter { allows($0) } }
}
