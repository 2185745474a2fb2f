import Foundation

/// jinja2's builtin filters (plus transformers' `tojson`), with jinja2's argument names.

/// Filters this engine implements.
let implementedFilters: Set<String> = [
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
    "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
    "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum", "title",
    "tojson", "trim", "unique", "upper", "wordcount", "forceescape",
]

/// jinja2 builtins left out; a template using them is refused at parse time rather than rendered wrongly.
let unimplementedFilters: Set<String> = [
    "filesizeformat", "groupby", "pprint", "random", "slice", "striptags", "truncate", "urlencode", "urlize",
    "wordwrap", "xmlattr",
]

extension Interpreter {
    func applyFilter(_ name: String, _ v: Value, _ args: [Value], _ kwargs: [(String, Value)]) throws -> Value {
        let a = CallArgs(fn: name, args: args, kwargs: kwargs)
        switch name {
        case "tojson":
            if let e = undefinedError(v), case .undefined(let u) = v, u.security { throw e }
            let ensureASCII = a.get(0, "ensure_ascii")?.truthy ?? false
            let indentArg = a.get(1, "indent")
            var indent: String? = nil
            switch indentArg {
            case nil, .none?: indent = nil
            case .string(let s)?: indent = s
            case let x?:
                guard let n = Num(x), case .int(let k) = n else { throw TemplateError(kind: .type, message: "indent must be int or str") }
                indent = String(repeating: " ", count: max(0, k))
            }
            var itemSep = indent == nil ? ", " : ","
            var keySep = ": "
            if let seps = a.get(2, "separators"), !seps.isNone {
                let parts = try seps.iterate()
                guard parts.count == 2, case .string(let s1) = parts[0], case .string(let s2) = parts[1] else {
                    throw TemplateError(kind: .type, message: "separators must be a pair of strings")
                }
                itemSep = s1
                keySep = s2
            }
            let sortKeys = a.get(3, "sort_keys")?.truthy ?? false
            var out = ""
            try JSONWriter(ensureASCII: ensureASCII, indent: indent, itemSeparator: itemSep, keySeparator: keySep, sortKeys: sortKeys)
                .write(v, into: &out, level: 0)
            return .string(out)
        case "trim":
            let chars = try a.string(0, "chars").map { Set($0.unicodeScalars) }
            return .string(pyStrip(Array(try v.str().unicodeScalars), chars, left: true, right: true))
        case "length", "count": return .int(try v.length())
        case "string": return v.isMarkup ? v : .string(try v.str())
        case "safe": return v.isMarkup ? v : .markup(try v.str())
        case "lower": return .string(try v.str().lowercased())
        case "upper": return .string(try v.str().uppercased())
        case "capitalize": return .string(pythonCapitalize(try v.str()))
        case "title": return .string(jinjaTitle(try v.str()))
        case "escape", "e": return v.isMarkup ? v : .markup(htmlEscape(try v.str()))
        case "forceescape": return .markup(htmlEscape(try v.str()))
        case "replace":
            guard let old = try a.string(0, "old"), let new = try a.string(1, "new") else { throw TemplateError(kind: .type, message: "replace() needs old and new") }
            return .string(pyReplace(Array(try v.str().unicodeScalars), Array(old.unicodeScalars), Array(new.unicodeScalars), count: try a.int(2, "count") ?? -1))
        case "default", "d":
            let dflt = a.get(0, "default_value") ?? .string("")
            let boolean = a.get(1, "boolean")?.truthy ?? false
            if v.isUndefined || (boolean && !v.truthy) { return dflt }
            return v
        case "join":
            let sep = try a.get(0, "d").map { try $0.str() } ?? ""
            var items = try v.iterate()
            if let attr = a.get(1, "attribute"), !attr.isNone { items = try items.map { try attrGet($0, attr) } }
            return .string(try items.map { try $0.str() }.joined(separator: sep))
        case "first":
            return try v.iterate().first ?? .undef("No first item, sequence was empty.")
        case "last":
            return try v.iterate().last ?? .undef("No last item, sequence was empty.")
        case "list": return .list(try v.iterate())
        case "items":
            if v.isUndefined { return .iter(.generator, []) }
            guard case .dict(let d) = v else { throw TemplateError(kind: .type, message: "Can only get item pairs from a mapping.") }
            return .iter(.generator, d.pairs.map { .tuple([$0.0, $0.1]) })
        case "int":
            let dflt = a.get(0, "default") ?? .int(0)
            if let e = undefinedError(v) { throw e }
            switch v {
            case .bool(let b): return .int(b ? 1 : 0)
            case .int: return v
            case .double(let d): return d.isFinite ? .int(Int(d)) : dflt
            case .string(let s):
                let t = pyStrip(Array(s.unicodeScalars), nil, left: true, right: true).replacingOccurrences(of: "_", with: "")
                if let i = Int(t) { return .int(i) }
                if let d = Double(t), d.isFinite, !t.lowercased().contains("x") { return .int(Int(d)) }
                return dflt
            default: return dflt
            }
        case "float":
            let dflt = a.get(0, "default") ?? .double(0)
            if let e = undefinedError(v) { throw e }
            switch v {
            case .bool(let b): return .double(b ? 1 : 0)
            case .int(let i): return .double(Double(i))
            case .double: return v
            case .string(let s):
                let t = pyStrip(Array(s.unicodeScalars), nil, left: true, right: true)
                return Double(t).map { .double($0) } ?? dflt
            default: return dflt
            }
        case "abs":
            switch Num(v) {
            case .int(let i)?: return .int(abs(i))
            case .double(let d)?: return .double(abs(d))
            case nil: throw TemplateError(kind: .type, message: "bad operand type for abs(): '\(v.typeName)'")
            }
        case "round":
            let precision = try a.int(0, "precision") ?? 0
            let method = try a.string(1, "method") ?? "common"
            guard let n = Num(v) else { throw TemplateError(kind: .type, message: "type \(v.typeName) doesn't define __round__ method") }
            let x = n.double
            let scale = pow(10.0, Double(precision))
            switch method {
            case "common":
                if precision == 0 { return .double(x.rounded(.toNearestOrEven)) }
                return .double(Double(String(format: "%.\(max(0, precision))f", x)) ?? x)
            case "floor": return .double((x * scale).rounded(.down) / scale)
            case "ceil": return .double((x * scale).rounded(.up) / scale)
            default: throw TemplateError(kind: .type, message: "method must be common, ceil or floor")
            }
        case "min", "max":
            let items = try v.iterate()
            let caseSensitive = a.get(0, "case_sensitive")?.truthy ?? false
            let attr = a.get(1, "attribute")
            guard !items.isEmpty else { return .undef("No aggregated item, sequence was empty.") }
            var best = items[0]
            for it in items.dropFirst() {
                let c = try sortOrder(try sortKey(it, attr, caseSensitive), try sortKey(best, attr, caseSensitive))
                if name == "min" ? c < 0 : c > 0 { best = it }
            }
            return best
        case "sum":
            var total: Value = a.get(1, "start") ?? .int(0)
            let attr = a.get(0, "attribute")
            for it in try v.iterate() { total = try binary(.add, total, attr.map { try attrGet(it, $0) } ?? it) }
            return total
        case "sort":
            let reverse = a.get(0, "reverse")?.truthy ?? false
            let caseSensitive = a.get(1, "case_sensitive")?.truthy ?? false
            let attr = a.get(2, "attribute")
            let items = try v.iterate()
            let keys = try items.map { try sortKey($0, attr, caseSensitive) }
            return .list(try stableSorted(items, keys, reverse: reverse))
        case "dictsort":
            guard case .dict(let d) = v else { throw TemplateError(kind: .type, message: "You can only sort by either \"key\" or \"value\"") }
            let caseSensitive = a.get(0, "case_sensitive")?.truthy ?? false
            let by = try a.string(1, "by") ?? "key"
            let reverse = a.get(2, "reverse")?.truthy ?? false
            let pairs = d.pairs.map { Value.tuple([$0.0, $0.1]) }
            let keys = try d.pairs.map { k, val in try sortKey(by == "key" ? k : val, nil, caseSensitive) }
            return .list(try stableSorted(pairs, keys, reverse: reverse))
        case "unique":
            let caseSensitive = a.get(0, "case_sensitive")?.truthy ?? false
            let attr = a.get(1, "attribute")
            var seen: [Value] = []
            var out: [Value] = []
            for it in try v.iterate() {
                let k = try sortKey(it, attr, caseSensitive)
                if !seen.contains(where: { valuesEqual($0, k) }) { seen.append(k); out.append(it) }
            }
            return .iter(.generator, out)
        case "reverse":
            if case .string(let s) = v { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .iter(.reverseIterator, try v.iterate().reversed())
        case "select", "reject":
            // jinja2's select/reject/map iterate only a truthy input (`if value:`), so None gives nothing.
            let items = v.truthy ? try v.iterate() : []
            return .iter(.generator, try items.filter { it in
                let r = args.isEmpty ? it.truthy : try applyTest(try testName(args[0]), it, Array(args.dropFirst()), kwargs)
                return name == "select" ? r : !r
            })
        case "selectattr", "rejectattr":
            guard let attr = a.get(0, "attribute") else { throw TemplateError(kind: .type, message: "\(name) needs an attribute") }
            let items = v.truthy ? try v.iterate() : []
            return .iter(.generator, try items.filter { it in
                let x = try attrGet(it, attr)
                let r = args.count < 2 ? x.truthy : try applyTest(try testName(args[1]), x, Array(args.dropFirst(2)), kwargs)
                return name == "selectattr" ? r : !r
            })
        case "map":
            let items = v.truthy ? try v.iterate() : []
            if let attr = kwargs.first(where: { $0.0 == "attribute" })?.1 {
                let dflt = kwargs.first { $0.0 == "default" }?.1
                return .iter(.generator, try items.map { it in
                    let x = try attrGet(it, attr)
                    if x.isUndefined, let dflt { return dflt }
                    return x
                })
            }
            guard let f = args.first else { return .iter(.generator, items) }
            let fname = try testName(f)
            try checkFilterName(fname)
            return .iter(.generator, try items.map { try applyFilter(fname, $0, Array(args.dropFirst()), kwargs) })
        case "batch":
            guard let size = try a.int(0, "linecount"), size > 0 else { throw TemplateError(kind: .type, message: "batch needs a positive size") }
            let fill = a.get(1, "fill_with")
            var out: [Value] = []
            var cur: [Value] = []
            for it in try v.iterate() {
                cur.append(it)
                if cur.count == size { out.append(.list(cur)); cur = [] }
            }
            if !cur.isEmpty {
                if let fill, !fill.isNone { while cur.count < size { cur.append(fill) } }
                out.append(.list(cur))
            }
            return .iter(.generator, out)
        case "wordcount":
            var n = 0
            var inWord = false
            for c in try v.str().unicodeScalars {
                let w = c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
                if w && !inWord { n += 1 }
                inWord = w
            }
            return .int(n)
        case "center":
            let width = try a.int(0, "width") ?? 80
            let s = try v.str()
            let pad = max(0, width - s.unicodeScalars.count)
            let left = pad / 2 + (pad & width & 1)
            return .string(String(repeating: " ", count: left) + s + String(repeating: " ", count: pad - left))
        case "indent":
            let widthArg = a.get(0, "width") ?? .int(4)
            let indention: String
            if case .string(let s) = widthArg { indention = s } else if let n = Num(widthArg), case .int(let k) = n { indention = String(repeating: " ", count: max(0, k)) } else {
                throw TemplateError(kind: .type, message: "indent width must be int or str")
            }
            let first = a.get(1, "first")?.truthy ?? false
            let blank = a.get(2, "blank")?.truthy ?? false
            let s = try v.str() + "\n"
            guard case .list(let rawLines) = try callValue(try getAttribute(.string(s), "splitlines"), [], []) else { return .string(s) }
            let lines = try rawLines.map { try $0.str() }
            var rv: String
            if blank {
                rv = lines.joined(separator: "\n" + indention)
            } else {
                rv = lines.first ?? ""
                if lines.count > 1 {
                    rv += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indention + $0 }.joined(separator: "\n")
                }
            }
            return .string(first ? indention + rv : rv)
        case "format":
            return .string(try percentFormat(try v.str(), args.count == 1 ? args[0] : .tuple(args)))
        case "attr":
            guard let n = try a.string(0, "name") else { throw TemplateError(kind: .type, message: "attr needs a name") }
            return try getAttribute(v, n)
        default:
            try checkFilterName(name)
            throw TemplateError(kind: .unsupported, message: "filter '\(name)' is not supported")
        }
    }

    private func testName(_ v: Value) throws -> String {
        guard case .string(let s) = v else { throw TemplateError(kind: .type, message: "test/filter name must be a string") }
        return s
    }

    /// jinja2's make_attrgetter: dotted paths, integer parts index lists.
    func attrGet(_ item: Value, _ attr: Value) throws -> Value {
        var cur = item
        let parts: [Value]
        if case .string(let s) = attr {
            parts = s.split(separator: ".", omittingEmptySubsequences: false).map { p in Int(p).map { .int($0) } ?? .string(String(p)) }
        } else {
            parts = [attr]
        }
        for p in parts { cur = try getItem(cur, p) }
        return cur
    }

    private func sortKey(_ v: Value, _ attr: Value?, _ caseSensitive: Bool) throws -> Value {
        var x = v
        if let attr, !attr.isNone { x = try attrGet(v, attr) }
        if !caseSensitive, case .string(let s) = x { return .string(s.lowercased()) }
        return x
    }

    private func sortOrder(_ a: Value, _ b: Value) throws -> Int {
        if let e = undefinedError(a) ?? undefinedError(b) { throw e }
        guard let c = try order(a, b) else {
            throw TemplateError(kind: .type, message: "'<' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
        }
        return c
    }

    private func stableSorted(_ items: [Value], _ keys: [Value], reverse: Bool) throws -> [Value] {
        var idx = Array(items.indices)
        var failure: Error?
        // Python's sort is stable and reverse=True keeps equal items in their original order.
        idx.sort { i, j in
            do {
                let c = try sortOrder(keys[i], keys[j])
                if c != 0 { return reverse ? c > 0 : c < 0 }
                return i < j
            } catch {
                failure = error
                return i < j
            }
        }
        if let failure { throw failure }
        return idx.map { items[$0] }
    }

    func checkFilterName(_ name: String) throws {
        if implementedFilters.contains(name) { return }
        if unimplementedFilters.contains(name) { throw TemplateError(kind: .unsupported, message: "filter '\(name)' is not supported") }
        throw TemplateError(kind: .assertion, message: "No filter named '\(name)' found.")
    }
}

/// jinja2's `title` filter: split at runs of `-`, whitespace and opening brackets; upper first, lower rest.
func jinjaTitle(_ s: String) -> String {
    var out = ""
    var atStart = true
    for c in s.unicodeScalars {
        let sep = c == "-" || c == "(" || c == "{" || c == "[" || c == "<" || isSpace(c)
        if sep {
            out.unicodeScalars.append(c)
            atStart = true
        } else {
            out += atStart ? String(c).uppercased() : String(c).lowercased()
            atStart = false
        }
    }
    return out
}

func htmlEscape(_ s: String) -> String {
    var out = ""
    for c in s.unicodeScalars {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&#34;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(c)
        }
    }
    return out
}
