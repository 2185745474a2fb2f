// Token masks for one constrained request: which vocabulary tokens keep the output inside the
// grammar from a matcher state. The trie of token bytes is scanned in preorder with the
// automaton (one transition-row load per node; a dead state skips the whole subtree), and
// masks are cached per automaton state, which repeats constantly (inside a JSON string every
// character leads back to the same state), so most steps are a dictionary hit.

public final class TokenMasker: @unchecked Sendable {
    public let vocabulary: TokenVocabulary
    public let automaton: GrammarAutomaton
    private var cache: [Int32: TokenMask] = [:]
    /// Cached masks kept before the cache is emptied (bounds memory: vocab/8 bytes each).
    public var cacheLimit = 4096

    public init(vocabulary: TokenVocabulary, automaton: GrammarAutomaton) {
        self.vocabulary = vocabulary
        self.automaton = automaton
    }

    /// Allowed tokens in `state`: those whose bytes the grammar accepts from there, plus the stop
    /// ids when the state is accepting.
    public func mask(_ state: Int32) -> TokenMask {
        if let m = cache[state] { return m }
        let m = compute(state)
        if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[state] = m
        return m
    }

    public func mask(for matcher: GrammarMatcher) -> TokenMask { mask(matcher.state) }

    /// Smallest self-loop class worth a loop table (a string body loops on ~90 ASCII bytes;
    /// narrow loops such as digits prune the plain walk early anyway).
    static let loopThreshold = 64

    func compute(_ state: Int32) -> TokenMask {
        let v = vocabulary
        var mask = TokenMask(size: v.size)
        if state < 0 { return mask }
        if automaton.isAccepting(state) { for id in v.stopIds where id >= 0 && id < v.size { mask.insert(id) } }
        let loop = automaton.selfLoop(state)
        if loop.count >= Self.loopThreshold {
            let table = v.loopTables.table(loop, utf8: automaton.loopsOnUTF8(state), bytes: v.bytes)
            mask.words.withUnsafeMutableBufferPointer { words in
                for w in 0..<words.count { words[w] |= table.allIn[w] }
                table.exceptions.walk(automaton, from: state, into: words)
            }
        } else {
            mask.words.withUnsafeMutableBufferPointer { v.trie.walk(automaton, from: state, into: $0) }
        }
        return mask
    }

    /// Applies the mask to logits: disallowed ids become -inf. Returns false when nothing is
    /// allowed (a dead end the caller must treat as the end of generation).
    @discardableResult
    public func apply(_ state: Int32, to logits: UnsafeMutableBufferPointer<Float>) -> Bool {
        let m = mask(state)
        var any = false
        let n = min(logits.count, m.size)
        for w in 0..<m.words.count {
            let word = m.words[w]
            if word != 0 { any = true }
            if word == ~0 { continue }
            let base = w << 6
            for bit in 0..<64 where base + bit < n && word & (UInt64(1) << UInt64(bit)) == 0 {
                logits[base + bit] = -.infinity
            }
        }
        if logits.count > m.size { for i in m.size..<logits.count { logits[i] = -.infinity } }
        return any
    }
}
