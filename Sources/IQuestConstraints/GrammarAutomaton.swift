// The matcher: a pushdown automaton over bytes, determinised lazily.
//
// Design. The grammar is flattened into one array of positions: each alternative is its
// elements followed by an END marker; position 0 is the ACCEPT sentinel. A parse stack is a
// chain of positions (top = the next element to match, below it the continuations after each
// rule reference); stacks are hash-consed into `nodes` (position, parent id) so a stack is one
// Int32 and shared tails cost nothing. A matcher state is the sorted set of stack ids whose top
// is a byte class or ACCEPT (references and ENDs are expanded eagerly, which is why the grammar
// must not be left-recursive), and states are interned too. Advancing state s by byte b keeps
// the stacks whose top class holds b, steps past it and re-expands; the result is cached in a
// 256-entry row per state, so after warm-up advancing is one array load, a matcher is one
// Int32 (copy = assignment), and the token-mask walk over the vocabulary trie is a load per
// trie edge. The automaton object owns these caches and is used by one thread at a time (the
// engine's step loop); every request compiles its own.

public final class GrammarAutomaton: @unchecked Sendable {
    static let endCode: Int32 = -1
    static let acceptCode: Int32 = Int32.min
    public static let dead: Int32 = -2
    static let unknown: Int32 = -1

    // Flattened grammar: code[p] ≥ 0 byte class index, -1 END, ≤ -2 reference to rule (-code-2).
    private var code: [Int32] = [acceptCode]
    private var classes: [ByteSet] = []
    private var ruleStarts: [[Int32]] = []

    // Hash-consed stacks.
    private var nodePos: [Int32] = []
    private var nodeParent: [Int32] = []
    private var nodeIndex: [Int64: Int32] = [:]

    // Interned states and their lazily filled transition rows.
    private var stateStacks: [[Int32]] = []
    private var stateIndex: [[Int32]: Int32] = [:]
    private var accepting: [Bool] = []
    /// [state × 256] next states (unknown, dead or an id), in one manually grown buffer so the
    /// mask walk can read it through a plain pointer (an array property on a class pays an
    /// exclusivity check and a retain per read, which dominated the walk).
    private(set) var table: UnsafeMutablePointer<Int32>
    private var tableCapacity = 0
    public let initialState: Int32
    public let grammar: Grammar

    public var stateCount: Int { stateStacks.count }

    // Scratch buffers reused by every transition computation (allocation was a large part of it).
    private var selection: [Int32] = []
    private var seen = Set<Int32>()
    private var work: [(Int32, Int32)] = []
    private var visited = Set<Int64>()

    deinit { table.deallocate() }

    public init(_ grammar: Grammar) throws {
        try grammar.validate()
        tableCapacity = 64 * 256
        table = UnsafeMutablePointer<Int32>.allocate(capacity: tableCapacity)
        self.grammar = grammar
        var classIndex: [ByteSet: Int32] = [:]
        ruleStarts = Array(repeating: [], count: grammar.rules.count)
        for (r, alts) in grammar.rules.enumerated() {
            for alt in alts {
                ruleStarts[r].append(Int32(code.count))
                for e in alt {
                    switch e {
                    case .bytes(let set):
                        if let i = classIndex[set] { code.append(i) } else {
                            classIndex[set] = Int32(classes.count)
                            code.append(Int32(classes.count))
                            classes.append(set)
                        }
                    case .rule(let q):
                        code.append(-Int32(q) - 2)
                    }
                }
                code.append(Self.endCode)
            }
        }
        initialState = 0
        nodePos.reserveCapacity(1024)
        let root = internNode(pos: 0, parent: -1)
        var stacks: [Int32] = []
        var seen = Set<Int32>()
        for s in ruleStarts[grammar.start] { expand(pos: s, parent: root, into: &stacks, seen: &seen) }
        _ = internState(stacks)
    }

    private func internNode(pos: Int32, parent: Int32) -> Int32 {
        let key = Int64(pos) << 32 | Int64(UInt32(bitPattern: parent))
        if let id = nodeIndex[key] { return id }
        let id = Int32(nodePos.count)
        nodePos.append(pos)
        nodeParent.append(parent)
        nodeIndex[key] = id
        return id
    }

    private func internState(_ stacks: [Int32]) -> Int32 {
        let sorted = stacks.sorted()
        if let id = stateIndex[sorted] { return id }
        let id = Int32(stateStacks.count)
        stateStacks.append(sorted)
        stateIndex[sorted] = id
        accepting.append(sorted.contains { code[Int(nodePos[Int($0)])] == Self.acceptCode })
        let needed = (Int(id) + 1) * 256
        if needed > tableCapacity {
            let grown = UnsafeMutablePointer<Int32>.allocate(capacity: tableCapacity * 2)
            grown.update(from: table, count: Int(id) * 256)
            table.deallocate()
            table = grown
            tableCapacity *= 2
        }
        (table + Int(id) * 256).update(repeating: Self.unknown, count: 256)
        return id
    }

    /// Adds every stack reachable from (pos, parent) without consuming input whose top is a
    /// byte class or ACCEPT.
    private func expand(pos: Int32, parent: Int32, into out: inout [Int32], seen: inout Set<Int32>) {
        work.removeAll(keepingCapacity: true)
        visited.removeAll(keepingCapacity: true)
        work.append((pos, parent))
        while let (p, par) = work.popLast() {
            let key = Int64(p) << 32 | Int64(UInt32(bitPattern: par))
            if !visited.insert(key).inserted { continue }
            let c = code[Int(p)]
            if c >= 0 || c == Self.acceptCode {
                let id = internNode(pos: p, parent: par)
                if seen.insert(id).inserted { out.append(id) }
            } else if c == Self.endCode {
                // Pop: continue where the reference that opened this rule left off.
                work.append((nodePos[Int(par)], nodeParent[Int(par)]))
            } else {
                let rule = Int(-c - 2)
                // A reference in tail position returns straight to the caller's continuation:
                // no frame for it, so `R ::= x R | ε` stays one stack shape per iteration (the
                // same state, a self-loop) instead of growing a frame per repetition, which made
                // every character of a string a new state and an uncached mask.
                let cont = code[Int(p) + 1] == Self.endCode ? par : internNode(pos: p + 1, parent: par)
                for s in ruleStarts[rule] { work.append((s, cont)) }
            }
        }
    }

    /// The state after `byte`, or `dead`.
    @inline(__always)
    public func next(_ state: Int32, _ byte: UInt8) -> Int32 {
        let t = table[Int(state) &* 256 &+ Int(byte)]
        if t != Self.unknown { return t }
        return computeNext(state, byte)
    }

    /// Fills the transitions of `state` on `byte` and on every byte that selects the same stacks
    /// (the bytes in all the selected stacks' classes and in none of the others' classes: they
    /// lead to the same state). Rows fill lazily byte group by byte group because the mask walk
    /// reaches most states only through a few trie edges; a whole-row fill expanded every
    /// selection of every such state and dominated the uncached mask time (profile: 67% of it
    /// in determinisation, most of it for transitions never taken).
    private func computeNext(_ state: Int32, _ byte: UInt8) -> Int32 {
        let stacks = stateStacks[Int(state)]
        var inAll = ByteSet.all, inOthers = ByteSet()
        selection.removeAll(keepingCapacity: true)
        for id in stacks {
            let c = code[Int(nodePos[Int(id)])]
            guard c >= 0 else { continue }
            let set = classes[Int(c)]
            if set.contains(byte) {
                selection.append(id)
                inAll.formIntersection(set)
            } else {
                inOthers.formUnion(set)
            }
        }
        var result = Self.dead
        if selection.isEmpty {
            // Every byte outside all top classes is dead.
            inAll = inOthers.inverted
        } else {
            var out: [Int32] = []
            seen.removeAll(keepingCapacity: true)
            for id in selection {
                expand(pos: nodePos[Int(id)] + 1, parent: nodeParent[Int(id)], into: &out, seen: &seen)
            }
            if !out.isEmpty { result = internState(out) }
            inAll = inAll.subtracting(inOthers)
        }
        let row = table + Int(state) * 256
        inAll.forEach { row[Int($0)] = result }
        return result
    }

    /// The bytes on which `state` leads back to itself (fills its whole row).
    public func selfLoop(_ state: Int32) -> ByteSet {
        var set = ByteSet()
        guard state >= 0 else { return set }
        for b in 0...255 where next(state, UInt8(b)) == state { set.insert(UInt8(b)) }
        return set
    }

    /// Whether every well-formed multi-byte UTF-8 character leads from `state` back to it
    /// (a string body's state does): explored range by range, the states reached at each byte
    /// position deduplicated, so a few thousand transitions at most.
    func loopsOnUTF8(_ state: Int32) -> Bool {
        guard state >= 0 else { return false }
        for form in LoopTable.utf8Forms {
            var reached = Set<Int32>()
            for lead in form.leads {
                let t = next(state, lead)
                if t < 0 { return false }
                reached.insert(t)
            }
            for range in form.continuations {
                var after = Set<Int32>()
                for t in reached {
                    for c in range {
                        let u = next(t, c)
                        if u < 0 { return false }
                        after.insert(u)
                    }
                }
                reached = after
            }
            if reached != [state] { return false }
        }
        return true
    }

    public func isAccepting(_ state: Int32) -> Bool { state >= 0 && accepting[Int(state)] }

    /// Bytes that can follow in `state` (the union of the top byte classes).
    /// The bytes every continuation from `state` starts with, at most `limit`: followed while the
    /// state is not accepting (the output could end there) and exactly one byte may come next.
    /// E.g. after `{` in an object whose only property is "name", `"name": ` (up to the
    /// whitespace the grammar leaves open). Empty when the next byte is a choice.
    public func forcedBytes(from state: Int32, limit: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var s = state
        while bytes.count < limit, s >= 0, !isAccepting(s) {
            let allowed = allowedBytes(s)
            guard allowed.count == 1 else { break }
            var only: UInt8 = 0
            allowed.forEach { only = $0 }
            bytes.append(only)
            s = next(s, only)
        }
        return bytes
    }

    public func allowedBytes(_ state: Int32) -> ByteSet {
        var set = ByteSet()
        guard state >= 0 else { return set }
        for id in stateStacks[Int(state)] {
            let c = code[Int(nodePos[Int(id)])]
            if c >= 0 { set.formUnion(classes[Int(c)]) }
        }
        return set
    }
}

/// A position in a constrained output: one state of a shared automaton. Copying is free.
public struct GrammarMatcher {
    public let automaton: GrammarAutomaton
    public private(set) var state: Int32

    public init(_ automaton: GrammarAutomaton) {
        self.automaton = automaton
        state = automaton.initialState
    }

    public init(_ automaton: GrammarAutomaton, state: Int32) {
        self.automaton = automaton
        self.state = state
    }

    public var isDead: Bool { state < 0 }
    public var isAccepting: Bool { automaton.isAccepting(state) }
    /// Whether some non-empty continuation exists.
    public var canContinue: Bool { !automaton.allowedBytes(state).isEmpty }

    /// Feeds `bytes`; false (and a dead matcher) when they leave the language.
    @discardableResult
    public mutating func advance<S: Sequence>(_ bytes: S) -> Bool where S.Element == UInt8 {
        for b in bytes {
            guard state >= 0 else { return false }
            state = automaton.next(state, b)
        }
        return state >= 0
    }

    /// Whether `bytes` is a complete sentence from the initial state.
    public static func accepts(_ automaton: GrammarAutomaton, _ bytes: [UInt8]) -> Bool {
        var m = GrammarMatcher(automaton)
        return m.advance(bytes) && m.isAccepting
    }
}
