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
    /// Every token's bytes in a preorder trie (the mask walk).
    let trie: PreorderTrie
    /// Shortcut tables for states that loop on a large byte class (string bodies).
    let loopTables = LoopTableCache()
    /// Per token id its bytes (nil: never allowed inside a constraint).
    public let bytes: [[UInt8]?]

    public var nodeCount: Int { trie.nodeCount }

    /// `bytes` split greedily into the longest vocabulary tokens, from the start, as far as tokens
    /// cover it. Not always the tokenizer's own split, which is why the engine only proposes such
    /// tokens as drafts for the model to confirm (a forced run of the grammar).
    public func longestMatchTokens(_ bytes: [UInt8]) -> [Int] {
        var ids: [Int] = []
        var position = 0
        while position < bytes.count, let (id, length) = trie.longestToken(prefixOf: bytes[position...]) {
            ids.append(id)
            position += length
        }
        return ids
    }

    /// `bytes[id]` nil or empty for special tokens; `stopIds` end generation.
    public init(bytes: [[UInt8]?], stopIds: [Int]) {
        size = bytes.count
        self.stopIds = stopIds
        let stops = Set(stopIds)
        var clean = bytes
        for id in stops where id >= 0 && id < clean.count { clean[id] = nil }
        for (id, b) in clean.enumerated() where b?.isEmpty ?? false { clean[id] = nil }
        self.bytes = clean
        trie = PreorderTrie(clean.enumerated().compactMap { id, b in b.map { (id, $0) } })
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
