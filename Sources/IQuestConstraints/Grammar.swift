// Grammar IR: rules of alternatives, each a sequence of byte classes and rule references.
// Everything the constraint engine accepts (GBNF text, regexes, choice lists, JSON Schema) is
// lowered to this one form; repetition is desugared into helper rules by `GrammarBuilder`, so the
// automaton only ever sees sequences, alternatives and references. Left recursion is refused
// (`validate`), which is what lets `GrammarAutomaton` expand references eagerly.

/// A set of bytes (256 bits).
public struct ByteSet: Hashable, Sendable {
    public var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0

    public init() {}
    public init(_ byte: UInt8) { insert(byte) }
    public init(_ range: ClosedRange<UInt8>) { insert(range) }
    public init(_ bytes: [UInt8]) { for b in bytes { insert(b) } }

    @inline(__always)
    public func contains(_ b: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: return w0 & bit != 0
        case 1: return w1 & bit != 0
        case 2: return w2 & bit != 0
        default: return w3 & bit != 0
        }
    }

    public mutating func insert(_ b: UInt8) {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: w0 |= bit
        case 1: w1 |= bit
        case 2: w2 |= bit
        default: w3 |= bit
        }
    }

    public mutating func insert(_ r: ClosedRange<UInt8>) { for b in r { insert(b) } }
    public mutating func formUnion(_ o: ByteSet) { w0 |= o.w0; w1 |= o.w1; w2 |= o.w2; w3 |= o.w3 }
    public mutating func formIntersection(_ o: ByteSet) { w0 &= o.w0; w1 &= o.w1; w2 &= o.w2; w3 &= o.w3 }
    /// Calls `body` with each member in increasing order.
    @inline(__always)
    public func forEach(_ body: (UInt8) -> Void) {
        for i in 0..<4 {
            var w = i == 0 ? w0 : i == 1 ? w1 : i == 2 ? w2 : w3
            while w != 0 {
                body(UInt8(i * 64 + w.trailingZeroBitCount))
                w &= w &- 1
            }
        }
    }
    public func subtracting(_ o: ByteSet) -> ByteSet {
        var s = self
        s.w0 &= ~o.w0; s.w1 &= ~o.w1; s.w2 &= ~o.w2; s.w3 &= ~o.w3
        return s
    }
    public var inverted: ByteSet {
        var s = ByteSet(); s.w0 = ~w0; s.w1 = ~w1; s.w2 = ~w2; s.w3 = ~w3
        return s
    }
    public var isEmpty: Bool { (w0 | w1 | w2 | w3) == 0 }
    public var count: Int { w0.nonzeroBitCount + w1.nonzeroBitCount + w2.nonzeroBitCount + w3.nonzeroBitCount }
    public static var all: ByteSet { ByteSet().inverted }
}

public enum GrammarElement: Hashable, Sendable {
    case bytes(ByteSet)
    case rule(Int)
}

/// A context-free grammar over bytes. `rules[r]` is the list of alternatives of rule r; an empty
/// alternative matches the empty string, a rule with no alternatives matches nothing.
public struct Grammar: Sendable {
    public var rules: [[[GrammarElement]]]
    public var names: [String]
    public var start: Int

    public init(rules: [[[GrammarElement]]], names: [String], start: Int) {
        self.rules = rules
        self.names = names
        self.start = start
    }

    /// Which rules can match the empty string (fixed point).
    func nullableRules() -> [Bool] {
        var nullable = [Bool](repeating: false, count: rules.count)
        var changed = true
        while changed {
            changed = false
            for (r, alts) in rules.enumerated() where !nullable[r] {
                for alt in alts where alt.allSatisfy({ if case .rule(let q) = $0 { return nullable[q] } else { return false } }) {
                    nullable[r] = true
                    changed = true
                    break
                }
            }
        }
        return nullable
    }

    /// Refuses references to missing rules and left recursion (a rule that can reach itself
    /// without consuming a byte would make eager expansion loop).
    public func validate() throws {
        for (r, alts) in rules.enumerated() {
            for alt in alts { for case .rule(let q) in alt where q < 0 || q >= rules.count {
                throw ConstraintError.grammar("rule '\(names[r])' refers to a missing rule")
            } }
        }
        let nullable = nullableRules()
        // Edges r → q when q can be the first thing r expands to.
        var first = [[Int]](repeating: [], count: rules.count)
        for (r, alts) in rules.enumerated() {
            for alt in alts {
                for e in alt {
                    guard case .rule(let q) = e else { break }
                    first[r].append(q)
                    if !nullable[q] { break }
                }
            }
        }
        var color = [UInt8](repeating: 0, count: rules.count)  // 0 new, 1 on path, 2 done
        for root in 0..<rules.count where color[root] == 0 {
            var stack: [(Int, Int)] = [(root, 0)]
            color[root] = 1
            while let (r, i) = stack.last {
                if i < first[r].count {
                    stack[stack.count - 1].1 += 1
                    let q = first[r][i]
                    if color[q] == 1 { throw ConstraintError.grammar("rule '\(names[q])' is left-recursive") }
                    if color[q] == 0 { color[q] = 1; stack.append((q, 0)) }
                } else {
                    color[r] = 2
                    stack.removeLast()
                }
            }
        }
    }
}

/// Builds grammars; identical rule bodies are shared so repeated sub-schemas and repetitions
/// do not multiply states.
public final class GrammarBuilder {
    public private(set) var rules: [[[GrammarElement]]] = []
    public private(set) var names: [String] = []
    private var interned: [[[GrammarElement]]: Int] = [:]
    private var repeatCache: [RepeatKey: Int] = [:]

    private struct RepeatKey: Hashable { let body: [GrammarElement]; let count: Int }

    public init() {}

    /// A rule to be defined later (for recursion).
    public func declare(_ name: String) -> Int {
        rules.append([])
        names.append(name)
        return rules.count - 1
    }

    public func define(_ rule: Int, _ alternatives: [[GrammarElement]]) {
        rules[rule] = alternatives
    }

    /// A rule with these alternatives, shared with any identical one built before.
    public func rule(_ alternatives: [[GrammarElement]], name: String = "r") -> Int {
        if let r = interned[alternatives] { return r }
        let r = declare(name)
        rules[r] = alternatives
        interned[alternatives] = r
        return r
    }

    /// The sequence as one element (a rule when longer than one element).
    public func group(_ seq: [GrammarElement]) -> GrammarElement {
        if seq.count == 1 { return seq[0] }
        return .rule(rule([seq]))
    }

    public func alternatives(_ alts: [[GrammarElement]]) -> GrammarElement {
        if alts.count == 1 { return group(alts[0]) }
        return .rule(rule(alts))
    }

    public func literal(_ bytes: [UInt8]) -> [GrammarElement] { bytes.map { .bytes(ByteSet($0)) } }
    public func literal(_ text: String) -> [GrammarElement] { literal(Array(text.utf8)) }

    /// `body` repeated min...max times (max nil: unbounded). Bounded tails are nested optionals
    /// (R_k = ε | body R_{k-1}) so no state has to count; unbounded is R = ε | body R.
    public func repeated(_ body: [GrammarElement], min: Int, max: Int?) -> [GrammarElement] {
        var out: [GrammarElement] = []
        let item = group(body)
        for _ in 0..<min { out.append(item) }
        if let max {
            if max > min { out.append(.rule(upTo(item, max - min))) }
        } else {
            let r = declare("star")
            define(r, [[], [item, .rule(r)]])
            out.append(.rule(r))
        }
        return out
    }

    private func upTo(_ item: GrammarElement, _ count: Int) -> Int {
        let key = RepeatKey(body: [item], count: count)
        if let r = repeatCache[key] { return r }
        var r = rule([[], [item]])
        if count > 1 {
            for k in 2...count {
                let k2 = RepeatKey(body: [item], count: k)
                if let cached = repeatCache[k2] { r = cached; continue }
                r = rule([[], [item, .rule(r)]])
                repeatCache[k2] = r
            }
        }
        repeatCache[key] = r
        return r
    }

    public func build(start: Int) throws -> Grammar {
        let g = Grammar(rules: rules, names: names, start: start)
        try g.validate()
        return g
    }
}
