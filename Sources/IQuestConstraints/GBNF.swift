// GBNF (llama.cpp's grammar syntax) → grammar: `name ::= alternatives` rules, "literals" with
// \n \t \r \\ \" \xHH \uHHHH \UHHHHHHHH escapes, [character classes] with ranges and ^, `.` (any
// character), (groups), postfix * + ? {m} {m,} {m,n}, # comments. The start rule is `root`.
// Characters are Unicode scalars matched as UTF-8.

public enum GBNF {
    public static func parse(_ text: String) throws -> Grammar {
        var p = GBNFParser(text)
        return try p.grammar()
    }
}

struct GBNFParser {
    let s: [Unicode.Scalar]
    var i = 0
    let b = GrammarBuilder()
    var ruleIds: [String: Int] = [:]
    var defined = Set<String>()

    init(_ text: String) { s = Array(text.unicodeScalars) }

    func fail(_ m: String) -> ConstraintError {
        let line = s[..<min(i, s.count)].filter { $0 == "\n" }.count + 1
        return .grammar("\(m) (line \(line))")
    }

    mutating func id(_ name: String) -> Int {
        if let r = ruleIds[name] { return r }
        let r = b.declare(name)
        ruleIds[name] = r
        return r
    }

    /// Skips spaces and comments; newlines too when `newlines`.
    mutating func skip(newlines: Bool) {
        while i < s.count {
            let c = s[i]
            if c == "#" { while i < s.count, s[i] != "\n" { i += 1 }; continue }
            if c == " " || c == "\t" || c == "\r" || (newlines && c == "\n") { i += 1; continue }
            break
        }
    }

    static func isNameChar(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
    }

    mutating func name() -> String? {
        let start = i
        while i < s.count, Self.isNameChar(s[i]) { i += 1 }
        return i > start ? String(String.UnicodeScalarView(s[start..<i])) : nil
    }

    mutating func grammar() throws -> Grammar {
        skip(newlines: true)
        while i < s.count {
            guard let n = name() else { throw fail("expected a rule name") }
            skip(newlines: false)
            guard i + 2 < s.count, s[i] == ":", s[i + 1] == ":", s[i + 2] == "=" else { throw fail("expected '::=' after '\(n)'") }
            i += 3
            if defined.contains(n) { throw fail("rule '\(n)' defined twice") }
            defined.insert(n)
            let r = id(n)
            b.define(r, try alternatives(nested: false))
            skip(newlines: true)
        }
        for n in ruleIds.keys where !defined.contains(n) { throw ConstraintError.grammar("rule '\(n)' is used but not defined") }
        guard let root = ruleIds["root"] else { throw ConstraintError.grammar("no 'root' rule") }
        return try b.build(start: root)
    }

    mutating func alternatives(nested: Bool) throws -> [[GrammarElement]] {
        var alts = [try sequence(nested: nested)]
        while i < s.count, s[i] == "|" {
            i += 1
            alts.append(try sequence(nested: nested))
        }
        return alts
    }

    mutating func sequence(nested: Bool) throws -> [GrammarElement] {
        var out: [GrammarElement] = []
        while true {
            skip(newlines: nested)
            // A newline ends a top-level rule unless the next line continues it with '|'.
            if !nested, i < s.count, s[i] == "\n" {
                var j = i
                while j < s.count, s[j] == "\n" || s[j] == " " || s[j] == "\t" || s[j] == "\r" { j += 1 }
                if j < s.count, s[j] == "|" { i = j; return out }
                // A continuation line starts with an indented element that is not `name ::=`.
                var k = j
                while k < s.count, Self.isNameChar(s[k]) { k += 1 }
                while k < s.count, s[k] == " " || s[k] == "\t" { k += 1 }
                let startsRule = k + 2 < s.count && s[k] == ":" && s[k + 1] == ":" && s[k + 2] == "="
                if j < s.count, !startsRule, j > i + 1, s[i + 1] == " " || s[i + 1] == "\t" { i = j; continue }
                return out
            }
            guard i < s.count, s[i] != "|", s[i] != ")" else { return out }
            var atom: [GrammarElement]
            let c = s[i]
            if c == "\"" {
                i += 1
                atom = []
                while true {
                    guard i < s.count else { throw fail("unterminated literal") }
                    if s[i] == "\"" { i += 1; break }
                    atom += b.literal(UTF8Ranges.encode(try char()))
                }
            } else if c == "[" {
                i += 1
                atom = [b.utf8Char(try charClass())]
            } else if c == "." {
                i += 1
                atom = [b.utf8Char(.any)]
            } else if c == "(" {
                i += 1
                let alts = try alternatives(nested: true)
                skip(newlines: true)
                guard i < s.count, s[i] == ")" else { throw fail("missing ')'") }
                i += 1
                atom = [b.alternatives(alts)]
            } else if let n = name() {
                atom = [.rule(id(n))]
            } else {
                throw fail("unexpected '\(c)'")
            }
            if i < s.count {
                switch s[i] {
                case "*": i += 1; atom = b.repeated(atom, min: 0, max: nil)
                case "+": i += 1; atom = b.repeated(atom, min: 1, max: nil)
                case "?": i += 1; atom = b.repeated(atom, min: 0, max: 1)
                case "{":
                    i += 1
                    let lo = number() ?? 0
                    var hi: Int? = lo
                    if i < s.count, s[i] == "," { i += 1; hi = number() }
                    guard i < s.count, s[i] == "}" else { throw fail("bad repetition") }
                    i += 1
                    if lo > RegexCompiler.maxCount || (hi ?? 0) > RegexCompiler.maxCount { throw fail("repetition count too large") }
                    if let hi, hi < lo { throw fail("repetition max below min") }
                    atom = b.repeated(atom, min: lo, max: hi)
                default: break
                }
            }
            out += atom
        }
    }

    mutating func number() -> Int? {
        skip(newlines: false)
        var v = 0, n = 0
        while i < s.count, let d = Int(String(s[i])), s[i].isASCII { v = v * 10 + d; n += 1; i += 1; if v > 1_000_000 { break } }
        skip(newlines: false)
        return n == 0 ? nil : v
    }

    mutating func char() throws -> UInt32 {
        let c = s[i]
        i += 1
        guard c == "\\" else { return c.value }
        guard i < s.count else { throw fail("trailing backslash") }
        let e = s[i]
        i += 1
        func hex(_ n: Int) throws -> UInt32 {
            var v: UInt32 = 0
            for _ in 0..<n {
                guard i < s.count, s[i].isASCII, let d = UInt32(String(s[i]), radix: 16) else { throw fail("bad hex escape") }
                v = v * 16 + d; i += 1
            }
            return v
        }
        switch e {
        case "n": return 0x0A
        case "t": return 0x09
        case "r": return 0x0D
        case "x": return try hex(2)
        case "u": return try hex(4)
        case "U": return try hex(8)
        default: return e.value
        }
    }

    mutating func charClass() throws -> CodepointSet {
        var negate = false
        if i < s.count, s[i] == "^" { negate = true; i += 1 }
        var set = CodepointSet()
        while true {
            guard i < s.count else { throw fail("missing ']'") }
            if s[i] == "]" { i += 1; break }
            let lo = try char()
            if i + 1 < s.count, s[i] == "-", s[i + 1] != "]" {
                i += 1
                let hi = try char()
                guard hi >= lo else { throw fail("range out of order") }
                set.insert(lo...hi)
            } else {
                set.insert(lo...lo)
            }
        }
        return negate ? set.inverted : set
    }
}

/// Exactly one of the given strings (vLLM's `choice`).
public enum ChoiceGrammar {
    public static func grammar(_ choices: [String]) throws -> Grammar {
        guard !choices.isEmpty else { throw ConstraintError.grammar("choice needs at least one option") }
        let b = GrammarBuilder()
        let root = b.rule(choices.map { b.literal($0) }, name: "root")
        return try b.build(start: root)
    }

    /// The regex's language, anchored at both ends (vLLM's `regex`).
    public static func regex(_ pattern: String) throws -> Grammar {
        let b = GrammarBuilder()
        let body = try RegexCompiler.compileAnchored(pattern, context: .text, into: b)
        let root = b.rule([body], name: "root")
        return try b.build(start: root)
    }
}
