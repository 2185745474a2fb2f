/// jinja2's builtin tests (`x is name(args)`).

let implementedTests: Set<String> = [
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false", "float", "ge", "gt",
    "greaterthan", "in", "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none", "number",
    "odd", "sameas", "sequence", "string", "true", "undefined", "upper", "filter", "test",
]

extension Interpreter {
    func applyTest(_ name: String, _ v: Value, _ args: [Value], _ kwargs: [(String, Value)]) throws -> Bool {
        let a = CallArgs(fn: name, args: args, kwargs: kwargs)
        func arg() throws -> Value {
            guard let x = a.get(0, "other") ?? a.get(0, "value") ?? a.get(0, "num") ?? a.get(0, "seq") else {
                throw TemplateError(kind: .type, message: "test '\(name)' needs an argument")
            }
            return x
        }
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": return v.isNone
        case "boolean": if case .bool = v { return true } else { return false }
        case "true": if case .bool(true) = v { return true } else { return false }
        case "false": if case .bool(false) = v { return true } else { return false }
        case "integer": if case .int = v { return true } else { return false }
        case "float": if case .double = v { return true } else { return false }
        case "number": return Num(v) != nil
        case "string": return v.isString
        case "mapping":
            if case .dict = v { return true } else { return false }
        case "iterable":
            switch v {
            case .undefined, .string, .list, .tuple, .dict, .iter, .range: return true
            case .object(let o): return o is Namespace
            default: return false
            }
        case "sequence":
            switch v {
            case .undefined, .string, .list, .tuple, .dict, .range: return true
            case .iter(let k, _): return k != .generator && k != .reverseIterator
            default: return false
            }
        case "callable":
            switch v {
            case .callable: return true
            case .object(let o): return o is Namespace
            default: return false
            }
        case "escaped": return v.isMarkup
        case "lower", "upper":
            // Python's str.islower/isupper: at least one cased character and none of the other case.
            let sc = try v.str().unicodeScalars
            let cased = sc.contains { $0.properties.isCased }
            return cased && !sc.contains { name == "lower" ? $0.properties.isUppercase : $0.properties.isLowercase }
        case "even", "odd":
            if let e = undefinedError(v) { throw e }
            guard Num(v) != nil else { throw TemplateError(kind: .type, message: "not all arguments converted during string formatting") }
            let r = try binary(.mod, v, .int(2))
            return name == "even" ? !r.truthy : r.truthy
        case "divisibleby":
            let r = try binary(.mod, v, try arg())
            return valuesEqual(r, .int(0))
        case "eq", "equalto", "==": return valuesEqual(v, try arg())
        case "ne", "!=": return !valuesEqual(v, try arg())
        case "lt", "lessthan", "<": return try compare(.lt, v, try arg())
        case "le", "<=": return try compare(.le, v, try arg())
        case "gt", "greaterthan", ">": return try compare(.gt, v, try arg())
        case "ge", ">=": return try compare(.ge, v, try arg())
        case "in": return try contains(try arg(), v)
        case "sameas":
            let o = try arg()
            switch (v, o) {
            case (.none, .none): return true
            case (.bool(let x), .bool(let y)): return x == y
            case (.object(let x), .object(let y)): return x === y
            default: return false
            }
        case "filter":
            guard case .string(let s) = v else { return false }
            return implementedFilters.contains(s) || unimplementedFilters.contains(s)
        case "test":
            guard case .string(let s) = v else { return false }
            return implementedTests.contains(s)
        default:
            throw TemplateError(kind: .assertion, message: "No test named '\(name)' found.")
        }
    }
}
