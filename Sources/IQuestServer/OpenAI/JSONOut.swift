/// A JSON value built by the server for its responses: object keys keep the order given, `null`
/// is written explicitly (OpenAI responses carry `"content": null` and `"logprobs": null`).
indirect enum JSONOut: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    case null
    case bool(Bool)
    case int(Int)
    case float(Float)
    /// A number from a request (tool arguments), written back with full precision.
    case double(Double)
    case string(String)
    case array([JSONOut])
    case object([(String, JSONOut)])

    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .int(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(arrayLiteral elements: JSONOut...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, JSONOut)...) { self = .object(elements) }
    init(nilLiteral: ()) { self = .null }

    static func optional(_ s: String?) -> JSONOut { s.map { .string($0) } ?? .null }

    var text: String {
        var out = ""
        write(into: &out)
        return out
    }

    func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .float(let f):
            // -inf log-probabilities (a token the filters removed) are reported as OpenAI does.
            out += f.isFinite ? "\(f)" : (f < 0 ? "-9999.0" : "0.0")
        case .double(let d): out += d.isFinite ? "\(d)" : "null"
        case .string(let s): JSONOut.writeString(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(into: &out)
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (i, (key, value)) in pairs.enumerated() {
                if i > 0 { out += "," }
                JSONOut.writeString(key, into: &out)
                out += ":"
                value.write(into: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
