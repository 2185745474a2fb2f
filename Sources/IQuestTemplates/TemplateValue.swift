import Foundation

/// A value passed into a template: the JSON data model plus `undefined`.
/// Dictionaries keep insertion order because templates iterate them and `tojson` prints them in order.
public enum TemplateValue: Sendable, Equatable {
    case undefined
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([TemplateValue])
    case dictionary(TemplateDictionary)

    /// Builds a value from Foundation's `JSONSerialization` output (or plain Swift arrays/dictionaries).
    /// `JSONSerialization` loses key order, so keys of `[String: Any]` are taken in sorted order;
    /// use `init(json:)` where order matters.
    public init(jsonObject: Any) throws {
        switch jsonObject {
        case let v as TemplateValue: self = v
        case is NSNull: self = .none
        case let s as String: self = .string(s)
        case let n as NSNumber:
            // NSNumber carries Bool, Int and Double alike; its Objective-C type code tells them apart.
            switch String(cString: n.objCType) {
            case "c", "B": self = .bool(n.boolValue)
            case "d", "f": self = .double(n.doubleValue)
            default: self = .int(n.intValue)
            }
        case let b as Bool: self = .bool(b)
        case let i as Int: self = .int(i)
        case let d as Double: self = .double(d)
        case let a as [Any]: self = .array(try a.map { try TemplateValue(jsonObject: $0) })
        case let d as [String: Any]:
            var out = TemplateDictionary()
            for k in d.keys.sorted() { out[k] = try TemplateValue(jsonObject: d[k] as Any) }
            self = .dictionary(out)
        case Optional<Any>.none: self = .none
        default:
            throw TemplateError(kind: .type, message: "cannot convert \(type(of: jsonObject)) to a template value")
        }
    }

    /// Parses JSON text, keeping object key order.
    public init(json: String) throws {
        var parser = OrderedJSONParser(Array(json.utf8))
        self = try parser.parseDocument()
    }

    /// Parses JSON data (UTF-8), keeping object key order.
    public init(json: Data) throws {
        var parser = OrderedJSONParser(Array(json))
        self = try parser.parseDocument()
    }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self = .dictionary(TemplateDictionary(elements))
    }
    public init(nilLiteral: ()) { self = .none }
}

/// An insertion-ordered string-keyed dictionary.
public struct TemplateDictionary: Sendable, Equatable {
    public private(set) var keys: [String] = []
    private var storage: [String: TemplateValue] = [:]

    public init() {}

    /// Later duplicates overwrite earlier values but keep the first position, as Python dicts do.
    public init(_ pairs: [(String, TemplateValue)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public var count: Int { keys.count }

    public subscript(key: String) -> TemplateValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public var pairs: [(String, TemplateValue)] { keys.map { ($0, storage[$0] ?? .none) } }

    public static func == (a: TemplateDictionary, b: TemplateDictionary) -> Bool {
        a.keys == b.keys && a.storage == b.storage
    }
}
