// Sets of Unicode scalars and their lowering to byte-level grammar elements, either as raw
// UTF-8 (regexes and GBNF over text) or as the characters of a JSON string literal (escaped the
// way JSON requires; the canonical escape only, as `json.dumps` writes it).

public struct CodepointSet: Hashable, Sendable {
    /// Sorted, disjoint, non-adjacent ranges.
    public private(set) var ranges: [ClosedRange<UInt32>]

    public init(_ ranges: [ClosedRange<UInt32>] = []) {
        self.ranges = []
        for r in ranges { insert(r) }
    }

    public static let any = CodepointSet([0...0x10FFFF])
    public static func char(_ c: UInt32) -> CodepointSet { CodepointSet([c...c]) }

    public var isEmpty: Bool { ranges.isEmpty }

    public mutating func insert(_ r: ClosedRange<UInt32>) {
        var merged = r
        var out: [ClosedRange<UInt32>] = []
        for x in ranges {
            if x.upperBound &+ 1 < merged.lowerBound || merged.upperBound &+ 1 < x.lowerBound {
                out.append(x)
            } else {
                merged = min(x.lowerBound, merged.lowerBound)...max(x.upperBound, merged.upperBound)
            }
        }
        out.append(merged)
        ranges = out.sorted { $0.lowerBound < $1.lowerBound }
    }

    public mutating func formUnion(_ o: CodepointSet) { for r in o.ranges { insert(r) } }

    public var inverted: CodepointSet {
        var out: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for r in ranges {
            if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
            next = r.upperBound + 1
        }
        if next <= 0x10FFFF { out.append(next...0x10FFFF) }
        return CodepointSet(out)
    }

    public func subtracting(_ o: CodepointSet) -> CodepointSet {
        var inv = o.inverted
        var result = CodepointSet()
        // self ∩ ¬o
        for a in ranges {
            for b in inv.ranges {
                let lo = max(a.lowerBound, b.lowerBound), hi = min(a.upperBound, b.upperBound)
                if lo <= hi { result.insert(lo...hi) }
            }
        }
        inv = CodepointSet()
        return result
    }

    public func contains(_ c: UInt32) -> Bool { ranges.contains { $0.contains(c) } }
}

enum UTF8Ranges {
    static func encode(_ c: UInt32) -> [UInt8] {
        switch c {
        case 0..<0x80: return [UInt8(c)]
        case 0x80..<0x800: return [UInt8(0xC0 | (c >> 6)), UInt8(0x80 | (c & 0x3F))]
        case 0x800..<0x10000:
            return [UInt8(0xE0 | (c >> 12)), UInt8(0x80 | ((c >> 6) & 0x3F)), UInt8(0x80 | (c & 0x3F))]
        default:
            return [UInt8(0xF0 | (c >> 18)), UInt8(0x80 | ((c >> 12) & 0x3F)), UInt8(0x80 | ((c >> 6) & 0x3F)), UInt8(0x80 | (c & 0x3F))]
        }
    }

    /// Byte-range sequences whose union is exactly the UTF-8 encodings of lo...hi (surrogates
    /// left out), split so each sequence is a product of byte ranges (the usual construction:
    /// split at encoding-length boundaries, then wherever the continuation bytes do not span
    /// their full 0x80...0xBF range).
    static func sequences(_ lo: UInt32, _ hi: UInt32) -> [[ClosedRange<UInt8>]] {
        var out: [[ClosedRange<UInt8>]] = []
        var stack: [(UInt32, UInt32)] = [(lo, hi)]
        outer: while let (s, e) = stack.popLast() {
            if s > e { continue }
            if s <= 0xDFFF && e >= 0xD800 {
                if s < 0xD800 { stack.append((s, 0xD7FF)) }
                if e > 0xDFFF { stack.append((0xE000, e)) }
                continue
            }
            for m: UInt32 in [0x7F, 0x7FF, 0xFFFF] where s <= m && e > m {
                stack.append((s, m)); stack.append((m + 1, e))
                continue outer
            }
            if e <= 0x7F { out.append([UInt8(s)...UInt8(e)]); continue }
            for i: UInt32 in 1..<4 {
                let m: UInt32 = (1 << (6 * i)) - 1
                if s & ~m != e & ~m {
                    if s & m != 0 { stack.append((s, s | m)); stack.append(((s | m) + 1, e)); continue outer }
                    if e & m != m { stack.append((s, (e & ~m) - 1)); stack.append((e & ~m, e)); continue outer }
                }
            }
            let a = encode(s), b = encode(e)
            out.append(zip(a, b).map { $0...$1 })
        }
        return out
    }
}

extension GrammarBuilder {
    /// One character of `set`, as raw UTF-8.
    public func utf8Char(_ set: CodepointSet) -> GrammarElement {
        var alts: [[GrammarElement]] = []
        var singles = ByteSet()
        for r in set.ranges {
            for seq in UTF8Ranges.sequences(r.lowerBound, r.upperBound) {
                if seq.count == 1 { singles.insert(seq[0]) } else { alts.append(seq.map { .bytes(ByteSet($0)) }) }
            }
        }
        if !singles.isEmpty { alts.insert([.bytes(singles)], at: 0) }
        if alts.isEmpty { return .rule(rule([], name: "nothing")) }
        return alternatives(alts)
    }

    /// One character of `set` inside a JSON string literal: `"`, `\` and control characters by
    /// their canonical escapes, the rest as UTF-8.
    public func jsonChar(_ set: CodepointSet) -> GrammarElement {
        let needsEscape = CodepointSet([0...0x1F, 0x22...0x22, 0x5C...0x5C])
        let plain = set.subtracting(needsEscape)
        var alts: [[GrammarElement]] = []
        if !plain.isEmpty { alts.append([utf8Char(plain)]) }
        for r in set.ranges where r.lowerBound <= 0x5C {
            for c in r.lowerBound...min(r.upperBound, 0x5C) where needsEscape.contains(c) {
                alts.append(literal(JSONValue.quoted(String(Character(Unicode.Scalar(c)!))).utf8.dropFirst().dropLast().map { $0 }))
            }
        }
        if alts.isEmpty { return .rule(rule([], name: "nothing")) }
        return alternatives(alts)
    }

    /// Any character of a JSON string with every escape JSON allows (what an unconstrained
    /// string may contain; a `\uXXXX` counts as one character).
    public func jsonAnyChar() -> GrammarElement {
        let hex = GrammarElement.bytes(ByteSet(Array("0123456789abcdefABCDEF".utf8)))
        let plain = utf8Char(CodepointSet([0x20...0x21, 0x23...0x5B, 0x5D...0x10FFFF]))
        let escape: [GrammarElement] = [.bytes(ByteSet(UInt8(ascii: "\\"))),
                                        alternatives([[.bytes(ByteSet(Array("\"\\/bfnrt".utf8)))],
                                                      [.bytes(ByteSet(UInt8(ascii: "u"))), hex, hex, hex, hex]])]
        return alternatives([[plain], escape])
    }
}
