// Regular expressions (ECMA-262 syntax, the dialect of JSON Schema `pattern`) compiled to
// grammar elements: literals and escapes, classes ([…], \d \w \s and negations, .), groups
// (capturing, (?:…), (?<name>…)), alternation, quantifiers * + ? {m} {m,} {m,n} (lazy forms
// match the same language), and ^/$ at the ends. Anything whose language a grammar cannot
// express exactly (backreferences, lookaround, \b, \p{…}) is refused, never approximated.

indirect enum RegexNode: Equatable {
    case chars(CodepointSet)
    case seq([RegexNode])
    case alt([RegexNode])
    case repeated(RegexNode, min: Int, max: Int?)
    case start, end
}

/// How regex characters become bytes: raw UTF-8, or characters of a JSON string literal.
public enum RegexContext: Sendable { case text, jsonString }

public struct RegexCompiler {
    /// Upper bound on a counted repetition (each count is a grammar rule).
    public static let maxCount = 10_000

    let pattern: String
    let scalars: [Unicode.Scalar]
    var i = 0

    init(_ pattern: String) {
        self.pattern = pattern
        scalars = Array(pattern.unicodeScalars)
    }

    func fail(_ reason: String) -> ConstraintError { .regex(pattern: pattern, reason: reason) }

    static func parse(_ pattern: String) throws -> RegexNode {
        var p = RegexCompiler(pattern)
        let node = try p.alternation()
        if p.i < p.scalars.count { throw p.fail("unbalanced ')' at \(p.i)") }
        return node
    }

    /// The whole-string language of `pattern` under JSON Schema's search semantics: an
    /// unanchored side may have any text around the match.
    public static func compile(_ pattern: String, context: RegexContext, into b: GrammarBuilder) throws -> [GrammarElement] {
        let node = try parse(pattern)
        let branches: [RegexNode]
        if case .alt(let a) = node { branches = a } else { branches = [node] }
        var alts: [[GrammarElement]] = []
        for branch in branches {
            var items: [RegexNode]
            if case .seq(let s) = branch { items = s } else { items = [branch] }
            var anchoredStart = false, anchoredEnd = false
            if items.first == .start { anchoredStart = true; items.removeFirst() }
            if items.last == .end { anchoredEnd = true; items.removeLast() }
            // Multiple anchors at an end (^^a) mean the same.
            while items.first == .start { items.removeFirst() }
            while items.last == .end { items.removeLast() }
            var seq: [GrammarElement] = []
            let anyChar = context == .jsonString ? b.jsonChar(.any) : b.utf8Char(.any)
            if !anchoredStart { seq += b.repeated([anyChar], min: 0, max: nil) }
            for item in items { seq += try emit(item, context: context, into: b, pattern: pattern) }
            if !anchoredEnd { seq += b.repeated([anyChar], min: 0, max: nil) }
            alts.append(seq)
        }
        return [b.alternatives(alts)]
    }

    /// Matches exactly the regex (anchors implied at both ends), for vLLM's `regex` and GBNF.
    public static func compileAnchored(_ pattern: String, context: RegexContext, into b: GrammarBuilder) throws -> [GrammarElement] {
        var node = try parse(pattern)
        if case .seq(var s) = node {
            if s.first == .start { s.removeFirst() }
            if s.last == .end { s.removeLast() }
            node = .seq(s)
        }
        return try emit(node, context: context, into: b, pattern: pattern)
    }

    static func emit(_ node: RegexNode, context: RegexContext, into b: GrammarBuilder, pattern: String) throws -> [GrammarElement] {
        switch node {
        case .chars(let set):
            return [context == .jsonString ? b.jsonChar(set) : b.utf8Char(set)]
        case .seq(let items):
            var out: [GrammarElement] = []
            for x in items { out += try emit(x, context: context, into: b, pattern: pattern) }
            return out
        case .alt(let options):
            return [b.alternatives(try options.map { try emit($0, context: context, into: b, pattern: pattern) })]
        case .repeated(let x, let min, let max):
            return b.repeated(try emit(x, context: context, into: b, pattern: pattern), min: min, max: max)
        case .start, .end:
            throw ConstraintError.regex(pattern: pattern, reason: "anchors are supported only at the ends of the pattern")
        }
    }

    // MARK: parsing

    var atEnd: Bool { i >= scalars.count }
    func peek() -> Unicode.Scalar? { atEnd ? nil : scalars[i] }

    mutating func alternation() throws -> RegexNode {
        var branches = [try sequence()]
        while peek() == "|" { i += 1; branches.append(try sequence()) }
        return branches.count == 1 ? branches[0] : .alt(branches)
    }

    mutating func sequence() throws -> RegexNode {
        var items: [RegexNode] = []
        while let c = peek(), c != "|", c != ")" {
            var atom = try self.atom()
            atom = try quantifiers(atom)
            items.append(atom)
        }
        return items.count == 1 ? items[0] : .seq(items)
    }

    mutating func quantifiers(_ atom: RegexNode) throws -> RegexNode {
        var node = atom
        while let c = peek() {
            var q: (Int, Int?)
            switch c {
            case "*": q = (0, nil); i += 1
            case "+": q = (1, nil); i += 1
            case "?": q = (0, 1); i += 1
            case "{":
                guard let counted = try countedQuantifier() else { return node }
                q = counted
            default: return node
            }
            if node == .start || node == .end { throw fail("quantified anchor") }
            if peek() == "?" { i += 1 }  // lazy: same language
            if peek() == "+" { throw fail("possessive quantifiers") }
            node = .repeated(node, min: q.0, max: q.1)
        }
        return node
    }

    /// {m}, {m,}, {m,n}; nil (and no input consumed) when '{' is a literal.
    mutating func countedQuantifier() throws -> (Int, Int?)? {
        let save = i
        i += 1
        func number() -> Int? {
            var v = 0, n = 0
            while let c = peek(), c.properties.numericType != nil, let d = Int(String(c)), c.isASCII {
                v = v * 10 + d; n += 1; i += 1
                if v > 1_000_000 { return v }
            }
            return n == 0 ? nil : v
        }
        guard let lo = number() else { i = save; return nil }
        var hi: Int? = lo
        if peek() == "," {
            i += 1
            hi = number()
        }
        guard peek() == "}" else { i = save; return nil }
        i += 1
        if lo > Self.maxCount || (hi ?? 0) > Self.maxCount { throw fail("repetition count above \(Self.maxCount)") }
        if let hi, hi < lo { throw fail("repetition {\(lo),\(hi)} has max below min") }
        return (lo, hi)
    }

    mutating func atom() throws -> RegexNode {
        guard let c = peek() else { throw fail("unexpected end") }
        i += 1
        switch c {
        case "^": return .start
        case "$": return .end
        case ".": return .chars(CodepointSet.char(0x0A).inverted.subtracting(CodepointSet([0x0D...0x0D, 0x2028...0x2029])))
        case "(":
            if peek() == "?" {
                i += 1
                guard let k = peek() else { throw fail("unexpected end") }
                if k == ":" { i += 1 }
                else if k == "<", i + 1 < scalars.count, scalars[i + 1] != "=", scalars[i + 1] != "!" {
                    while let x = peek(), x != ">" { i += 1 }
                    i += 1
                } else { throw fail("lookaround and inline flags") }
            }
            let inner = try alternation()
            guard peek() == ")" else { throw fail("missing ')'") }
            i += 1
            return inner
        case "[": return .chars(try charClass())
        case "\\": return try escape(inClass: false).node
        case "*", "+", "?": throw fail("nothing to repeat at \(i - 1)")
        default: return .chars(.char(c.value))
        }
    }

    static let digit = CodepointSet([0x30...0x39])
    static let word = CodepointSet([0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A])
    static let space = CodepointSet([0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A,
                                     0x2028...0x2029, 0x202F...0x202F, 0x205F...0x205F, 0x3000...0x3000, 0xFEFF...0xFEFF])

    /// After a backslash: a class (\d…) or one character.
    mutating func escape(inClass: Bool) throws -> (node: RegexNode, char: UInt32?) {
        guard let e = peek() else { throw fail("trailing backslash") }
        i += 1
        func one(_ v: UInt32) -> (RegexNode, UInt32?) { (.chars(.char(v)), v) }
        switch e {
        case "d": return (.chars(Self.digit), nil)
        case "D": return (.chars(Self.digit.inverted), nil)
        case "w": return (.chars(Self.word), nil)
        case "W": return (.chars(Self.word.inverted), nil)
        case "s": return (.chars(Self.space), nil)
        case "S": return (.chars(Self.space.inverted), nil)
        case "t": return one(0x09)
        case "n": return one(0x0A)
        case "r": return one(0x0D)
        case "f": return one(0x0C)
        case "v": return one(0x0B)
        case "0": return one(0)
        case "b" where inClass: return one(0x08)
        case "x": return one(try hex(2))
        case "u":
            if peek() == "{" {
                i += 1
                var v: UInt32 = 0
                while let h = peek(), h != "}" {
                    guard let d = h.properties.numericType != nil || "abcdefABCDEF".unicodeScalars.contains(h) ? UInt32(String(h), radix: 16) : nil else { throw fail("bad \\u{…}") }
                    v = v * 16 + d; i += 1
                }
                i += 1
                return one(v)
            }
            return one(try hex(4))
        case "b", "B": throw fail("word boundaries")
        case "p", "P": throw fail("Unicode property classes (\\p{…})")
        case "k": throw fail("backreferences")
        case "c": throw fail("control escapes")
        default:
            if e.properties.numericType != nil, e.isASCII { throw fail("backreferences") }
            return one(e.value)
        }
    }

    mutating func hex(_ n: Int) throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<n {
            guard let h = peek(), h.isASCII, let d = UInt32(String(h), radix: 16) else { throw fail("bad hex escape") }
            v = v * 16 + d; i += 1
        }
        return v
    }

    mutating func charClass() throws -> CodepointSet {
        var negate = false
        if peek() == "^" { negate = true; i += 1 }
        var set = CodepointSet()
        var first = true
        while true {
            guard let c = peek() else { throw fail("missing ']'") }
            if c == "]" && !first { i += 1; break }
            if c == "]" && first { i += 1; break }  // [] matches nothing, as in ECMA
            first = false
            i += 1
            var lo: UInt32?
            if c == "\\" {
                let (node, ch) = try escape(inClass: true)
                if let ch { lo = ch } else if case .chars(let s) = node { set.formUnion(s); continue }
            } else if c == "[" && peek() == ":" {
                throw fail("POSIX classes")
            } else {
                lo = c.value
            }
            guard let low = lo else { continue }
            if peek() == "-", i + 1 < scalars.count, scalars[i + 1] != "]" {
                i += 1
                guard let h = peek() else { throw fail("missing ']'") }
                i += 1
                var high = h.value
                if h == "\\" {
                    let (_, ch) = try escape(inClass: true)
                    guard let ch else { throw fail("class escape as range end") }
                    high = ch
                }
                if high < low { throw fail("range out of order") }
                set.insert(low...high)
            } else {
                set.insert(low...low)
            }
        }
        return negate ? set.inverted : set
    }
}
