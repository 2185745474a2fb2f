import Foundation

/// Python semantics of attribute/item access, slicing, arithmetic and comparison as jinja2's
/// ImmutableSandboxedEnvironment applies them.

func undefinedError(_ v: Value) -> TemplateError? {
    guard case .undefined(let u) = v else { return nil }
    return TemplateError(kind: u.security ? .security : .undefined, message: u.message)
}

/// Numeric view of a value; bool counts as int, as in Python.
enum Num {
    case int(Int), double(Double)
    init?(_ v: Value) {
        switch v {
        case .bool(let b): self = .int(b ? 1 : 0)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        default: return nil
        }
    }
    var double: Double {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        }
    }
}

extension Interpreter {
    func getAttribute(_ obj: Value, _ name: String) throws -> Value {
        if let e = undefinedError(obj) { throw e }
        if let m = try boundMethod(obj, name) { return m }
        switch obj {
        case .dict(let d):
            return d[.string(name)] ?? .undef("'dict object' has no attribute '\(name)'")
        case .object(let o):
            return o.attribute(name) ?? .undef("'\(o.typeName) object' has no attribute '\(name)'")
        default:
            return .undef("\(obj.objectTypeRepr) has no attribute '\(name)'")
        }
    }

    func getItem(_ obj: Value, _ key: Value) throws -> Value {
        if let e = undefinedError(obj) { throw e }
        if let e = undefinedError(key), case .undefined(let u) = key, u.security { throw e }
        switch obj {
        case .dict(let d):
            if let v = d[key] { return v }
        case .list(let a), .tuple(let a), .range(_, _, _, let a):
            if let i = Num(key), case .int(let n) = i {
                let idx = n < 0 ? n + a.count : n
                if idx >= 0 && idx < a.count { return a[idx] }
                return .undef("\(obj.objectTypeRepr) has no element \(n)")
            }
        case .string(let s), .markup(let s):
            if let i = Num(key), case .int(let n) = i {
                let scalars = Array(s.unicodeScalars)
                let idx = n < 0 ? n + scalars.count : n
                if idx >= 0 && idx < scalars.count { return .string(String(scalars[idx])) }
                return .undef("'str object' has no element \(n)")
            }
        default:
            break
        }
        if case .string(let name) = key { return try getAttribute(obj, name) }
        return .undef("\(obj.objectTypeRepr) has no element \((try? key.repr()) ?? "?")")
    }

    func sliceValue(_ v: Value, _ a: Value?, _ b: Value?, _ c: Value?) throws -> Value {
        if let e = undefinedError(v) { throw e }
        func intOrNil(_ x: Value?) throws -> Int? {
            guard let x, !x.isNone else { return nil }
            guard let n = Num(x), case .int(let i) = n else {
                throw TemplateError(kind: .type, message: "slice indices must be integers or None or have an __index__ method")
            }
            return i
        }
        let step = try intOrNil(c) ?? 1
        guard step != 0 else { throw TemplateError(kind: .type, message: "slice step cannot be zero") }
        func indices(_ count: Int) throws -> [Int] {
            func clamp(_ x: Int?, _ dflt: Int, _ lo: Int, _ hi: Int) -> Int {
                guard var x else { return dflt }
                if x < 0 { x += count }
                return min(max(x, lo), hi)
            }
            var out: [Int] = []
            if step > 0 {
                var i = clamp(try intOrNil(a), 0, 0, count)
                let end = clamp(try intOrNil(b), count, 0, count)
                while i < end { out.append(i); i += step }
            } else {
                var i = clamp(try intOrNil(a), count - 1, -1, count - 1)
                let end = clamp(try intOrNil(b), -1, -1, count - 1)
                while i > end { out.append(i); i += step }
            }
            return out
        }
        switch v {
        case .string(let s), .markup(let s):
            let sc = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(sc.count) { out.append(sc[i]) }
            return .string(String(out))
        case .list(let arr), .range(_, _, _, let arr): return .list(try indices(arr.count).map { arr[$0] })
        case .tuple(let arr): return .tuple(try indices(arr.count).map { arr[$0] })
        default:
            return .undef("\(v.objectTypeRepr) has no element slice")
        }
    }

    func negate(_ v: Value) throws -> Value {
        if let e = undefinedError(v) { throw e }
        switch Num(v) {
        case .int(let i)?: return .int(-i)
        case .double(let d)?: return .double(-d)
        case nil: throw TemplateError(kind: .type, message: "bad operand type for unary -: '\(v.typeName)'")
        }
    }

    func binary(_ op: BinaryOp, _ l: Value, _ r: Value) throws -> Value {
        if op == .concat { return .string(try l.str() + r.str()) }
        if let e = undefinedError(l) ?? undefinedError(r) { throw e }
        func unsupported() -> TemplateError {
            TemplateError(kind: .type, message: "unsupported operand type(s) for \(op.rawValue): '\(l.typeName)' and '\(r.typeName)'")
        }
        func overflow() -> TemplateError { TemplateError(kind: .unsupported, message: "integer overflow in \(op.rawValue) (Python integers are unbounded)") }
        if let a = Num(l), let b = Num(r) {
            switch (a, b) {
            case (.int(let x), .int(let y)):
                switch op {
                case .add:
                    let (v, o) = x.addingReportingOverflow(y); if o { throw overflow() }; return .int(v)
                case .sub:
                    let (v, o) = x.subtractingReportingOverflow(y); if o { throw overflow() }; return .int(v)
                case .mul:
                    let (v, o) = x.multipliedReportingOverflow(by: y); if o { throw overflow() }; return .int(v)
                case .div:
                    guard y != 0 else { throw TemplateError(kind: .type, message: "division by zero") }
                    return .double(Double(x) / Double(y))
                case .floordiv:
                    guard y != 0 else { throw TemplateError(kind: .type, message: "integer division or modulo by zero") }
                    let q = x / y
                    return .int((x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q)
                case .mod:
                    guard y != 0 else { throw TemplateError(kind: .type, message: "integer division or modulo by zero") }
                    let m = x % y
                    return .int(m != 0 && (m < 0) != (y < 0) ? m + y : m)
                case .pow:
                    if y < 0 { return .double(pow(Double(x), Double(y))) }
                    var result = 1, base = x, e = y
                    while e > 0 {
                        if e & 1 == 1 {
                            let (v, o) = result.multipliedReportingOverflow(by: base); if o { throw overflow() }; result = v
                        }
                        e >>= 1
                        if e > 0 { let (v, o) = base.multipliedReportingOverflow(by: base); if o { throw overflow() }; base = v }
                    }
                    return .int(result)
                default: throw unsupported()
                }
            default:
                let x = a.double, y = b.double
                switch op {
                case .add: return .double(x + y)
                case .sub: return .double(x - y)
                case .mul: return .double(x * y)
                case .div:
                    guard y != 0 else { throw TemplateError(kind: .type, message: "float division by zero") }
                    return .double(x / y)
                case .floordiv:
                    guard y != 0 else { throw TemplateError(kind: .type, message: "float floor division by zero") }
                    return .double((x / y).rounded(.down))
                case .mod:
                    guard y != 0 else { throw TemplateError(kind: .type, message: "float modulo") }
                    let m = fmod(x, y)
                    return .double(m != 0 && (m < 0) != (y < 0) ? m + y : m)
                case .pow: return .double(pow(x, y))
                default: throw unsupported()
                }
            }
        }
        switch (op, l, r) {
        case (.add, .markup(let a), .markup(let b)): return .markup(a + b)
        case (.add, .markup(let a), .string(let b)): return .markup(a + htmlEscape(b))
        case (.add, .string(let a), .markup(let b)): return .markup(htmlEscape(a) + b)
        case (.add, .markup, _), (.add, _, .markup):
            throw TemplateError(kind: .unsupported, message: "'+' between Markup and \(l.isMarkup ? r.typeName : l.typeName) is not supported")
        case (.add, .string(let a), .string(let b)): return .string(a + b)
        case (.add, .string, _): throw TemplateError(kind: .type, message: "can only concatenate str (not \"\(r.typeName)\") to str")
        case (.add, .list(let a), .list(let b)): return .list(a + b)
        case (.add, .list, _): throw TemplateError(kind: .type, message: "can only concatenate list (not \"\(r.typeName)\") to list")
        case (.add, .tuple(let a), .tuple(let b)): return .tuple(a + b)
        case (.mul, .string(let s), _), (.mul, _, .string(let s)):
            guard let n = Num(l.isString ? r : l), case .int(let k) = n else { throw unsupported() }
            return .string(String(repeating: s, count: max(0, k)))
        case (.mul, .list(let a), _), (.mul, _, .list(let a)):
            guard let n = Num(l.isList ? r : l), case .int(let k) = n else { throw unsupported() }
            return .list(Array([[Value]](repeating: a, count: max(0, k)).joined()))
        case (.mod, .markup, _):
            throw TemplateError(kind: .unsupported, message: "Markup % formatting is not supported")
        case (.mod, .string(let fmt), _):
            return .string(try percentFormat(fmt, r))
        default:
            throw unsupported()
        }
    }

    func compare(_ op: CompareOp, _ l: Value, _ r: Value) throws -> Bool {
        switch op {
        case .eq: return valuesEqual(l, r)
        case .ne: return !valuesEqual(l, r)
        case .isIn: return try contains(r, l)
        case .notIn: return !(try contains(r, l))
        case .lt, .le, .gt, .ge:
            if let e = undefinedError(l) ?? undefinedError(r) { throw e }
            guard let c = try order(l, r) else {
                throw TemplateError(kind: .type, message: "'\(op.rawValue)' not supported between instances of '\(l.typeName)' and '\(r.typeName)'")
            }
            switch op {
            case .lt: return c < 0
            case .le: return c <= 0
            case .gt: return c > 0
            default: return c >= 0
            }
        }
    }

    /// Python `needle in haystack`.
    func contains(_ haystack: Value, _ needle: Value) throws -> Bool {
        switch haystack {
        case .undefined(let u):
            if u.security { throw TemplateError(kind: .security, message: u.message) }
            return false
        case .string(let s), .markup(let s):
            guard let n = needle.text else {
                if let e = undefinedError(needle) { throw e }
                throw TemplateError(kind: .type, message: "'in <string>' requires string as left operand, not \(needle.typeName)")
            }
            return n.isEmpty || scalarFind(Array(s.unicodeScalars), Array(n.unicodeScalars), from: 0) != nil
        case .dict(let d): return d.contains(needle)
        case .object(let o as Namespace): return o.dict.contains(needle)
        default:
            guard let items = haystack.iterated() else {
                throw TemplateError(kind: .type, message: "argument of type '\(haystack.typeName)' is not iterable")
            }
            return items.contains { valuesEqual($0, needle) }
        }
    }
}

extension Value {
    var isString: Bool {
        switch self {
        case .string, .markup: return true
        default: return false
        }
    }
    var isMarkup: Bool { if case .markup = self { return true } else { return false } }
    /// The text of a str or Markup.
    var text: String? {
        switch self {
        case .string(let s), .markup(let s): return s
        default: return nil
        }
    }
    var isList: Bool { if case .list = self { return true } else { return false } }
}

/// Python `==`.
func valuesEqual(_ a: Value, _ b: Value) -> Bool {
    if let x = Num(a), let y = Num(b) {
        if case .int(let i) = x, case .int(let j) = y { return i == j }
        return x.double == y.double
    }
    switch (a, b) {
    case (.undefined, .undefined), (.none, .none): return true
    case (.string(let x), .string(let y)), (.markup(let x), .markup(let y)), (.string(let x), .markup(let y)), (.markup(let x), .string(let y)):
        return x.unicodeScalars.elementsEqual(y.unicodeScalars)
    case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { valuesEqual($0, $1) }
    case (.dict(let x), .dict(let y)):
        return x.count == y.count && x.pairs.allSatisfy { k, v in y[k].map { valuesEqual(v, $0) } ?? false }
    case (.object(let x), .object(let y)): return x === y
    case (.callable(let x), .callable(let y)): return x === y
    default: return false
    }
}

/// Python ordering: numbers, strings (by code point), lists/tuples lexicographically. nil: not comparable.
func order(_ a: Value, _ b: Value) throws -> Int? {
    if let x = Num(a), let y = Num(b) {
        if case .int(let i) = x, case .int(let j) = y { return i < j ? -1 : i > j ? 1 : 0 }
        let p = x.double, q = y.double
        return p < q ? -1 : p > q ? 1 : 0
    }
    switch (a, b) {
    case (.string(let x), .string(let y)), (.markup(let x), .markup(let y)), (.string(let x), .markup(let y)), (.markup(let x), .string(let y)):
        var i = x.unicodeScalars.makeIterator(), j = y.unicodeScalars.makeIterator()
        while true {
            switch (i.next(), j.next()) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case (let p?, let q?): if p != q { return p.value < q.value ? -1 : 1 }
            }
        }
    case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
        for (p, q) in zip(x, y) where !valuesEqual(p, q) {
            guard let c = try order(p, q) else { return nil }
            return c
        }
        return x.count < y.count ? -1 : x.count > y.count ? 1 : 0
    default:
        return nil
    }
}

/// Index of `needle` in `hay` at or after `from`, by code points.
func scalarFind(_ hay: [Unicode.Scalar], _ needle: [Unicode.Scalar], from: Int) -> Int? {
    if needle.isEmpty { return from <= hay.count ? from : nil }
    guard hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
    var i = from
    let first = needle[0]
    while i <= hay.count - needle.count {
        if hay[i] == first {
            var k = 1
            while k < needle.count, hay[i + k] == needle[k] { k += 1 }
            if k == needle.count { return i }
        }
        i += 1
    }
    return nil
}
