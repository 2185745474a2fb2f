// A small JSON reader that keeps what JSONSerialization loses: the source range of every value and
// the key order of objects, so tool-call arguments go out as the model wrote them. Strict RFC 8259
// grammar; nesting is capped so hostile input cannot exhaust the stack.

struct JSONNode: Sendable {
    enum Kind: Sendable {
        case object([Member])
        case array
        case string(String)
        case number
        case bool
        case null
    }

    struct Member: Sendable {
        var key: String
        var value: JSONNode
    }

    var kind: Kind
    /// Scalar offsets of the value's text in the parsed input.
    var range: Range<Int>
}

enum JSONText {
    static let maxDepth = 256

    /// The single JSON value making up `scalars` (whitespace around it allowed), or nil.
    static func parse(_ scalars: [Unicode.Scalar]) -> JSONNode? {
        var reader = Reader(scalars: scalars)
        reader.skipWhitespace()
        guard let node = reader.value(depth: 0) else { return nil }
        reader.skipWhitespace()
        return reader.position == scalars.count ? node : nil
    }

    static func parse(_ text: String) -> JSONNode? { parse(Array(text.unicodeScalars)) }

    /// Valid JSON text with the whitespace between tokens removed; nil when not valid JSON.
    static func minified(_ text: String) -> String? {
        let scalars = Array(text.unicodeScalars)
        guard let node = parse(scalars) else { return nil }
        var out = String.UnicodeScalarView()
        var inString = false
        var escaped = false
        for scalar in scalars[node.range] {
            if inString {
                if escaped { escaped = false } else if scalar == "\\" { escaped = true } else if scalar == "\"" { inString = false }
            } else if scalar == "\"" {
                inString = true
            } else if isWhitespace(scalar) {
                continue
            }
            out.append(scalar)
        }
        return String(out)
    }

    /// `text` as a JSON string literal; non-ASCII stays literal (like `ensure_ascii=False`).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Whether `text` is exactly one JSON number literal.
    static func isNumber(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        var reader = Reader(scalars: scalars)
        return reader.number() && reader.position == scalars.count
    }

    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\n" || scalar == "\r" || scalar == "\t"
    }
}

/// Recursive-descent reader over scalars; every method returns nil/false on malformed input.
private struct Reader {
    let scalars: [Unicode.Scalar]
    var position = 0

    private var current: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    mutating func skipWhitespace() {
        while let scalar = current, JSONText.isWhitespace(scalar) { position += 1 }
    }

    mutating func value(depth: Int) -> JSONNode? {
        guard depth < JSONText.maxDepth, let scalar = current else { return nil }
        let start = position
        let kind: JSONNode.Kind
        switch scalar {
        case "{":
            guard let members = object(depth: depth) else { return nil }
            kind = .object(members)
        case "[":
            guard array(depth: depth) else { return nil }
            kind = .array
        case "\"":
            guard let text = string() else { return nil }
            kind = .string(text)
        case "t": guard literal("true") else { return nil }; kind = .bool
        case "f": guard literal("false") else { return nil }; kind = .bool
        case "n": guard literal("null") else { return nil }; kind = .null
        default: guard number() else { return nil }; kind = .number
        }
        return JSONNode(kind: kind, range: start..<position)
    }

    private mutating func object(depth: Int) -> [JSONNode.Member]? {
        position += 1
        var members: [JSONNode.Member] = []
        skipWhitespace()
        if current == "}" { position += 1; return members }
        while true {
            skipWhitespace()
            guard current == "\"", let key = string() else { return nil }
            skipWhitespace()
            guard current == ":" else { return nil }
            position += 1
            skipWhitespace()
            guard let member = value(depth: depth + 1) else { return nil }
            members.append(JSONNode.Member(key: key, value: member))
            skipWhitespace()
            switch current {
            case ",": position += 1
            case "}": position += 1; return members
            default: return nil
            }
        }
    }

    private mutating func array(depth: Int) -> Bool {
        position += 1
        skipWhitespace()
        if current == "]" { position += 1; return true }
        while true {
            skipWhitespace()
            guard value(depth: depth + 1) != nil else { return false }
            skipWhitespace()
            switch current {
            case ",": position += 1
            case "]": position += 1; return true
            default: return false
            }
        }
    }

    /// Reads a string literal at `position` (which is `"`) and returns its decoded value.
    private mutating func string() -> String? {
        position += 1
        var out = String.UnicodeScalarView()
        while let scalar = current {
            position += 1
            switch scalar {
            case "\"": return String(out)
            case "\\":
                guard let decoded = escape() else { return nil }
                out.append(decoded)
            case _ where scalar.value < 0x20: return nil
            default: out.append(scalar)
            }
        }
        return nil
    }

    private mutating func escape() -> Unicode.Scalar? {
        guard let scalar = current else { return nil }
        position += 1
        switch scalar {
        case "\"", "\\", "/": return scalar
        case "b": return "\u{08}"
        case "f": return "\u{0C}"
        case "n": return "\n"
        case "r": return "\r"
        case "t": return "\t"
        case "u":
            guard let high = hex4() else { return nil }
            guard (0xD800..<0xDC00).contains(high) else { return Unicode.Scalar(high) }
            // A high surrogate must be followed by `\u` and a low surrogate.
            guard current == "\\", position + 1 < scalars.count, scalars[position + 1] == "u" else { return nil }
            position += 2
            guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
            return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        default: return nil
        }
    }

    private mutating func hex4() -> UInt32? {
        guard position + 4 <= scalars.count else { return nil }
        var value: UInt32 = 0
        for scalar in scalars[position..<position + 4] {
            guard scalar.isASCII, scalar != "+", scalar != "-", let digit = UInt32(String(scalar), radix: 16) else { return nil }
            value = value << 4 | digit
        }
        position += 4
        return value
    }

    private mutating func literal(_ word: String) -> Bool {
        for expected in word.unicodeScalars {
            guard current == expected else { return false }
            position += 1
        }
        return true
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    mutating func number() -> Bool {
        if current == "-" { position += 1 }
        if current == "0" {
            position += 1
        } else if digits() == 0 {
            return false
        }
        if current == "." {
            position += 1
            guard digits() > 0 else { return false }
        }
        if current == "e" || current == "E" {
            position += 1
            if current == "+" || current == "-" { position += 1 }
            guard digits() > 0 else { return false }
        }
        return true
    }

    private mutating func digits() -> Int {
        var count = 0
        while let scalar = current, ("0"..."9").contains(scalar) {
            position += 1
            count += 1
        }
        return count
    }
}
