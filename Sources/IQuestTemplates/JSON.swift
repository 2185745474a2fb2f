/// JSON in and out: an order-preserving parser for contexts, and Python's `json.dumps` for `tojson`.

struct OrderedJSONParser {
    private let b: [UInt8]
    private var i = 0

    init(_ bytes: [UInt8]) {
        b = bytes
        if b.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
    }

    private func fail(_ m: String) -> TemplateError { TemplateError(kind: .type, message: "invalid JSON at byte \(i): \(m)") }

    mutating func parseDocument() throws -> TemplateValue {
        let v = try value(depth: 0)
        skipWS()
        guard i == b.count else { throw fail("trailing characters") }
        return v
    }

    private mutating func skipWS() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    private mutating func literal(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard b.count - i >= w.count, Array(b[i..<(i + w.count)]) == w else { return false }
        i += w.count
        return true
    }

    private mutating func value(depth: Int) throws -> TemplateValue {
        guard depth < 512 else { throw fail("nesting too deep") }
        skipWS()
        guard i < b.count else { throw fail("unexpected end") }
        switch b[i] {
        case UInt8(ascii: "{"):
            i += 1
            var d = TemplateDictionary()
            skipWS()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .dictionary(d) }
            while true {
                skipWS()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected key") }
                let k = try string()
                skipWS()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                d[k] = try value(depth: depth + 1)
                skipWS()
                guard i < b.count else { throw fail("unexpected end") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .dictionary(d) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var a: [TemplateValue] = []
            skipWS()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
            while true {
                a.append(try value(depth: depth + 1))
                skipWS()
                guard i < b.count else { throw fail("unexpected end") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try string())
        default:
            if literal("true") { return .bool(true) }
            if literal("false") { return .bool(false) }
            if literal("null") { return .none }
            return try number()
        }
    }

    private mutating func number() throws -> TemplateValue {
        let start = i
        var isFloat = false
        while i < b.count {
            let c = b[i]
            if (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") { i += 1 } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                isFloat = true
                i += 1
            } else { break }
        }
        let text = String(decoding: b[start..<i], as: UTF8.self)
        guard !text.isEmpty else { throw fail("unexpected character") }
        if !isFloat, let n = Int(text) { return .int(n) }
        guard let d = Double(text) else { throw fail("bad number \(text)") }
        return .double(d)
    }

    private mutating func hex4() throws -> UInt32 {
        guard b.count - i >= 4, let v = UInt32(String(decoding: b[i..<(i + 4)], as: UTF8.self), radix: 16) else { throw fail("bad \\u escape") }
        i += 4
        return v
    }

    private mutating func string() throws -> String {
        i += 1
        var bytes: [UInt8] = []
        while i < b.count, b[i] != UInt8(ascii: "\"") {
            if b[i] == UInt8(ascii: "\\") {
                i += 1
                guard i < b.count else { throw fail("unterminated string") }
                let c = b[i]
                i += 1
                switch c {
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: "\""): bytes.append(c)
                case UInt8(ascii: "u"):
                    var v = try hex4()
                    if v >= 0xD800 && v < 0xDC00, b.count - i >= 6, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") {
                        i += 2
                        let lo = try hex4()
                        guard lo >= 0xDC00 && lo < 0xE000 else { throw fail("unpaired surrogate") }
                        v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(v) else { throw fail("lone surrogate (not representable in a Swift String)") }
                    bytes.append(contentsOf: Array(String(u).utf8))
                default: throw fail("bad escape")
                }
            } else {
                bytes.append(b[i])
                i += 1
            }
        }
        guard i < b.count else { throw fail("unterminated string") }
        i += 1
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Python's json.dumps with the options transformers' `tojson` exposes.
struct JSONWriter {
    var ensureASCII: Bool
    var indent: String?
    var itemSeparator: String
    var keySeparator: String
    var sortKeys: Bool

    func write(_ v: Value, into out: inout String, level: Int) throws {
        switch v {
        case .none: out += "null"
        case .bool(let x): out += x ? "true" : "false"
        case .int(let x): out += String(x)
        case .double(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else { out += pythonFloatRepr(d) }
        case .string(let s): writeString(s, &out)
        case .list(let a), .tuple(let a):
            try writeContainer("[", "]", a.count, &out, level) { i, o in try write(a[i], into: &o, level: level + 1) }
        case .dict(let d):
            var pairs = try d.pairs.map { k, val -> (String, Value) in (try jsonKey(k), val) }
            if sortKeys { pairs.sort { order(.string($0.0), .string($1.0)) < 0 } }
            try writeContainer("{", "}", pairs.count, &out, level) { i, o in
                writeString(pairs[i].0, &o)
                o += keySeparator
                try write(pairs[i].1, into: &o, level: level + 1)
            }
        default:
            throw TemplateError(kind: .type, message: "Object of type \(v.typeName) is not JSON serializable")
        }
    }

    private func order(_ a: Value, _ b: Value) -> Int { ((try? IQuestTemplates.order(a, b)) ?? nil) ?? 0 }

    private func jsonKey(_ k: Value) throws -> String {
        switch k {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return pythonFloatRepr(d)
        case .bool(let b): return b ? "true" : "false"
        case .none: return "null"
        default: throw TemplateError(kind: .type, message: "keys must be str, int, float, bool or None, not \(k.typeName)")
        }
    }

    private func writeContainer(_ open: String, _ close: String, _ n: Int, _ out: inout String, _ level: Int,
                                _ item: (Int, inout String) throws -> Void) throws {
        out += open
        guard n > 0 else { out += close; return }
        if let indent {
            let inner = "\n" + String(repeating: indent, count: level + 1)
            for i in 0..<n {
                out += (i == 0 ? "" : itemSeparator) + inner
                try item(i, &out)
            }
            out += "\n" + String(repeating: indent, count: level) + close
        } else {
            for i in 0..<n {
                if i > 0 { out += itemSeparator }
                try item(i, &out)
            }
            out += close
        }
    }

    private func writeString(_ s: String, _ out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 || (ensureASCII && u.value > 0x7E) {
                    if u.value > 0xFFFF {
                        let v = u.value - 0x10000
                        out += "\\u" + hex(0xD800 + (v >> 10), 4) + "\\u" + hex(0xDC00 + (v & 0x3FF), 4)
                    } else {
                        out += "\\u" + hex(u.value, 4)
                    }
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}
