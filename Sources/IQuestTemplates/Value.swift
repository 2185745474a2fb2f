import Foundation

/// Why a value is undefined; the message is what jinja2 reports when the value is used.
struct Undef {
    var message: String
    /// jinja2's sandbox returns an undefined for unsafe attributes that raises SecurityError when used.
    var security = false
}

/// Lazy Python objects that templates can meet; they differ in printing, `len` and truthiness.
enum IterKind {
    case generator        // map/select/... results: no len, always truthy, not printable deterministically
    case reverseIterator  // reversed(list)
    case dictKeys, dictValues, dictItems
}

/// Host objects with attributes (namespace, loop).
class TemplateObject {
    var typeName: String { "object" }
    func attribute(_ name: String) -> Value? { nil }
    func repr() throws -> String { throw TemplateError(kind: .unsupported, message: "cannot print a \(typeName) object") }
}

final class Namespace: TemplateObject {
    var dict = Dict()
    override var typeName: String { "Namespace" }
    override func attribute(_ name: String) -> Value? { dict[.string(name)] }
    override func repr() throws -> String { "<Namespace \(try Value.dict(dict).repr())>" }
}

/// A callable value: builtin functions, bound methods, macros.
final class Callable {
    let name: String
    let call: (_ args: [Value], _ kwargs: [(String, Value)]) throws -> Value
    init(_ name: String, _ call: @escaping (_ args: [Value], _ kwargs: [(String, Value)]) throws -> Value) {
        self.name = name
        self.call = call
    }
}

indirect enum Value {
    case undefined(Undef)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    /// jinja2's Markup (from `safe`/`escape`): prints as-is, but `+` with a plain str HTML-escapes the str.
    case markup(String)
    case list([Value])
    case tuple([Value])
    case dict(Dict)
    case iter(IterKind, [Value])
    case object(TemplateObject)
    case callable(Callable)
    /// `range(...)`: a sequence that prints as `range(a, b)`.
    case range(Int, Int, Int, [Value])

    static func undef(_ message: String) -> Value { .undefined(Undef(message: message)) }

    init(_ v: TemplateValue) {
        switch v {
        case .undefined: self = .undef("value is undefined")
        case .none: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .list(a.map(Value.init))
        case .dictionary(let d):
            var out = Dict()
            for (k, x) in d.pairs { out[.string(k)] = Value(x) }
            self = .dict(out)
        }
    }

    var isUndefined: Bool { if case .undefined = self { return true } else { return false } }
    var isNone: Bool { if case .none = self { return true } else { return false } }

    /// Python type name as used in error messages ("'dict object' has no attribute ...").
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .markup: return "Markup"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .iter(let k, _):
            switch k {
            case .generator: return "generator"
            case .reverseIterator: return "list_reverseiterator"
            case .dictKeys: return "dict_keys"
            case .dictValues: return "dict_values"
            case .dictItems: return "dict_items"
            }
        case .object(let o): return o.typeName
        case .callable: return "function"
        case .range: return "range"
        }
    }

    /// jinja2's object_type_repr: "None" for None, else "'<type> object'".
    var objectTypeRepr: String { isNone ? "None" : "'\(typeName) object'" }

    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s), .markup(let s): return !s.isEmpty
        case .list(let a), .tuple(let a): return !a.isEmpty
        case .dict(let d): return d.count > 0
        case .iter(let k, let a):
            switch k {
            case .generator, .reverseIterator: return true
            default: return !a.isEmpty
            }
        case .range(_, _, _, let a): return !a.isEmpty
        case .object, .callable: return true
        }
    }

    /// Python `str(x)`, which is what `{{ x }}` prints.
    func str() throws -> String {
        switch self {
        case .undefined(let u):
            if u.security { throw TemplateError(kind: .security, message: u.message) }
            return ""
        case .string(let s), .markup(let s): return s
        default: return try repr()
        }
    }

    /// Python `repr(x)`.
    func repr() throws -> String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return pythonFloatRepr(d)
        case .string(let s): return pythonStringRepr(s)
        case .markup(let s): return "Markup(" + pythonStringRepr(s) + ")"
        case .list(let a): return "[" + (try a.map { try $0.repr() }).joined(separator: ", ") + "]"
        case .tuple(let a):
            if a.count == 1 { return "(" + (try a[0].repr()) + ",)" }
            return "(" + (try a.map { try $0.repr() }).joined(separator: ", ") + ")"
        case .dict(let d):
            return "{" + (try d.pairs.map { try $0.0.repr() + ": " + $0.1.repr() }).joined(separator: ", ") + "}"
        case .iter(let k, let a):
            switch k {
            case .dictKeys: return "dict_keys(" + (try Value.list(a).repr()) + ")"
            case .dictValues: return "dict_values(" + (try Value.list(a).repr()) + ")"
            case .dictItems: return "dict_items(" + (try Value.list(a).repr()) + ")"
            case .generator, .reverseIterator:
                // Python prints an object address here; refuse rather than invent one.
                throw TemplateError(kind: .unsupported, message: "cannot print a \(typeName) object (its Python form contains a memory address)")
            }
        case .range(let a, let b, let s, _): return s == 1 ? "range(\(a), \(b))" : "range(\(a), \(b), \(s))"
        case .object(let o): return try o.repr()
        case .callable(let c):
            throw TemplateError(kind: .unsupported, message: "cannot print function \(c.name) (its Python form contains a memory address)")
        }
    }

    /// Elements when iterated (`for`, `list`, `join`...); nil if not iterable.
    func iterated() -> [Value]? {
        switch self {
        case .undefined: return []
        case .list(let a), .tuple(let a), .iter(_, let a), .range(_, _, _, let a): return a
        case .dict(let d): return d.keys
        case .string(let s), .markup(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .object(let o as Namespace): return o.dict.keys
        default: return nil
        }
    }

    func iterate() throws -> [Value] {
        if case .undefined(let u) = self, u.security { throw TemplateError(kind: .security, message: u.message) }
        guard let a = iterated() else {
            throw TemplateError(kind: .type, message: "'\(typeName)' object is not iterable")
        }
        return a
    }

    /// Python `len(x)`.
    func length() throws -> Int {
        switch self {
        case .undefined: return 0
        case .string(let s), .markup(let s): return s.unicodeScalars.count
        case .list(let a), .tuple(let a), .range(_, _, _, let a): return a.count
        case .dict(let d): return d.count
        case .iter(let k, let a):
            if k == .generator || k == .reverseIterator {
                throw TemplateError(kind: .type, message: "object of type '\(typeName)' has no len()")
            }
            return a.count
        default: throw TemplateError(kind: .type, message: "object of type '\(typeName)' has no len()")
        }
    }

    func toPublic() -> TemplateValue {
        switch self {
        case .undefined: return .undefined
        case .none: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s), .markup(let s): return .string(s)
        case .list(let a), .tuple(let a), .iter(_, let a), .range(_, _, _, let a): return .array(a.map { $0.toPublic() })
        case .dict(let d):
            var out = TemplateDictionary()
            for (k, v) in d.pairs { out[(try? k.str()) ?? ""] = v.toPublic() }
            return .dictionary(out)
        case .object, .callable: return .undefined
        }
    }
}

/// Hashable identity of a dict key, with Python's equalities (1 == 1.0 == True).
enum DictKey: Hashable {
    case none, number(Double), int(Int), string([UInt32]), tuple([DictKey]), other(ObjectIdentifier)

    init(_ v: Value) throws {
        switch v {
        case .none: self = .none
        case .bool(let b): self = .int(b ? 1 : 0)
        case .int(let i): self = .int(i)
        case .double(let d): self = d == d.rounded() && abs(d) < 9e15 ? .int(Int(d)) : .number(d)
        case .string(let s), .markup(let s): self = .string(s.unicodeScalars.map(\.value))
        case .tuple(let a): self = .tuple(try a.map(DictKey.init))
        case .object(let o): self = .other(ObjectIdentifier(o))
        case .undefined: self = .string([])
        default: throw TemplateError(kind: .type, message: "unhashable type: '\(v.typeName)'")
        }
    }
}

/// Insertion-ordered dictionary with Python-valued keys.
struct Dict {
    private(set) var keys: [Value] = []
    private(set) var values: [Value] = []
    private var index: [DictKey: Int] = [:]

    var count: Int { keys.count }
    var pairs: Zip2Sequence<[Value], [Value]> { zip(keys, values) }

    subscript(key: Value) -> Value? {
        get {
            guard let k = try? DictKey(key), let i = index[k] else { return nil }
            return values[i]
        }
        set {
            guard let k = try? DictKey(key) else { return }
            if let newValue {
                if let i = index[k] { values[i] = newValue } else {
                    index[k] = keys.count
                    keys.append(key)
                    values.append(newValue)
                }
            }
        }
    }

    func contains(_ key: Value) -> Bool { self[key] != nil }
}

/// Python's repr of a float: shortest round-trip digits, exponent form when exp < -4 or >= 16.
func pythonFloatRepr(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
    // Swift's description also prints the shortest round-trip digits; take them apart and re-lay them out.
    var s = "\(abs(d))"
    var exp = 0
    if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        exp = Int(s[s.index(after: e)...]) ?? 0
        s = String(s[..<e])
    }
    var intPart = s
    var frac = ""
    if let dot = s.firstIndex(of: ".") {
        intPart = String(s[..<dot])
        frac = String(s[s.index(after: dot)...])
    }
    var digits = intPart + frac
    var point = intPart.count + exp  // decimal point position within digits
    let lead = digits.prefix { $0 == "0" }.count
    digits.removeFirst(lead)
    point -= lead
    while digits.hasSuffix("0") { digits.removeLast() }
    if digits.isEmpty { return d.sign == .minus ? "-0.0" : "0.0" }
    let sciExp = point - 1
    var out: String
    if sciExp < -4 || sciExp >= 16 {
        out = String(digits.prefix(1))
        if digits.count > 1 { out += "." + digits.dropFirst() }
        out += "e" + (sciExp < 0 ? "-" : "+") + (abs(sciExp) < 10 ? "0" : "") + String(abs(sciExp))
    } else if point <= 0 {
        out = "0." + String(repeating: "0", count: -point) + digits
    } else if point >= digits.count {
        out = digits + String(repeating: "0", count: point - digits.count) + ".0"
    } else {
        let i = digits.index(digits.startIndex, offsetBy: point)
        out = digits[..<i] + "." + digits[i...]
    }
    return d < 0 ? "-" + out : out
}

/// Python's repr of a str.
func pythonStringRepr(_ s: String) -> String {
    let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
    var out = String(quote)
    for u in s.unicodeScalars {
        switch u {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if Character(u) == quote {
                out += "\\" + String(quote)
            } else if isPythonPrintable(u) {
                out.unicodeScalars.append(u)
            } else if u.value < 0x100 {
                out += "\\x" + hex(u.value, 2)
            } else if u.value < 0x10000 {
                out += "\\u" + hex(u.value, 4)
            } else {
                out += "\\U" + hex(u.value, 8)
            }
        }
    }
    out.append(quote)
    return out
}

func hex(_ v: UInt32, _ width: Int) -> String {
    let h = String(v, radix: 16)
    return String(repeating: "0", count: max(0, width - h.count)) + h
}

/// Python's str.isprintable for one character: everything except categories C* and Z* other than space.
func isPythonPrintable(_ u: Unicode.Scalar) -> Bool {
    if u == " " { return true }
    switch u.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
        return false
    default:
        return true
    }
}
