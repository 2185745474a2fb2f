// Token masks for one constrained request: which vocabulary tokens keep the output inside the
// grammar from a matcher state. The trie of token bytes is walked depth first with the
// automaton (one transition-row load per edge; a dead state prunes the whole subtree), and
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

    func compute(_ state: Int32) -> TokenMask {
        let v = vocabulary
        var mask = TokenMask(size: v.size)
        if state < 0 { return mask }
        if automaton.isAccepting(state) { for id in v.stopIds where id >= 0 && id < v.size { mask.insert(id) } }
        // Explicit DFS stack of (trie node, automaton state).
        var stack: [(Int32, Int32)] = [(0, state)]
        stack.reserveCapacity(256)
        v.firstEdge.withUnsafeBufferPointer { fe in
        v.edgeByte.withUnsafeBufferPointer { eb in
        v.edgeChild.withUnsafeBufferPointer { ec in
        v.firstToken.withUnsafeBufferPointer { ft in
        v.tokenIds.withUnsafeBufferPointer { ti in
            let a = automaton
            var table = a.table
            while let (node, s) = stack.popLast() {
                let n = Int(node)
                for t in Int(ft[n])..<Int(ft[n + 1]) { mask.insert(Int(ti[t])) }
                let row = Int(s) &* 256
                for e in Int(fe[n])..<Int(fe[n + 1]) {
                    var next = table[row &+ Int(eb[e])]
                    if next == GrammarAutomaton.unknown {
                        next = a.next(s, eb[e])
                        table = a.table  // the row fill may have grown the table
                    }
                    if next >= 0 { stack.append((ec[e], next)) }
                }
            }
        } } } } }
        // The root node has no tokens (no empty token), so nothing above inserted a stray id.
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
