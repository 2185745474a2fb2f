/// Python methods on str, dict and list, as exposed by jinja2's ImmutableSandboxedEnvironment.

/// Positional/keyword argument reader for builtins, with Python-like errors.
struct CallArgs {
    let fn: String
    let args: [Value]
    let kwargs: [(String, Value)]

    func get(_ i: Int, _ name: String) -> Value? {
        if i < args.count { return args[i] }
        return kwargs.first { $0.0 == name }?.1
    }

    func string(_ i: Int, _ name: String) throws -> String? {
        guard let v = get(i, name), !v.isNone else { return nil }
        guard case .string(let s) = v else { throw TemplateError(kind: .type, message: "\(fn)() argument '\(name)' must be str, not \(v.typeName)") }
        return s
    }

    func int(_ i: Int, _ name: String) throws -> Int? {
        guard let v = get(i, name), !v.isNone else { return nil }
        guard let n = Num(v), case .int(let k) = n else { throw TemplateError(kind: .type, message: "\(fn)() argument '\(name)' must be int, not \(v.typeName)") }
        return k
    }

    func requireAtMost(_ n: Int) throws {
        if args.count > n { throw TemplateError(kind: .type, message: "\(fn)() takes at most \(n) arguments (\(args.count) given)") }
    }
}

private let unsafeListMethods: Set<String> = ["append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"]
private let unsafeDictMethods: Set<String> = ["clear", "pop", "popitem", "setdefault", "update"]

extension Interpreter {
    func boundMethod(_ obj: Value, _ name: String) throws -> Value? {
        func method(_ body: @escaping (CallArgs) throws -> Value) -> Value {
            .callable(Callable(name) { a, k in try body(CallArgs(fn: name, args: a, kwargs: k)) })
        }
        func unsafe() -> Value {
            .undefined(Undef(message: "access to attribute '\(name)' of '\(obj.typeName)' object is unsafe.", security: true))
        }
        switch obj {
        case .markup:
            // Markup's methods escape their arguments and return Markup; not modelled.
            throw TemplateError(kind: .unsupported, message: "methods on Markup strings are not supported")
        case .string(let s):
            guard let m = stringMethod(s, name) else { return nil }
            return method(m)
        case .dict(let d):
            if unsafeDictMethods.contains(name) { return unsafe() }
            switch name {
            case "keys": return method { _ in .iter(.dictKeys, d.keys) }
            case "values": return method { _ in .iter(.dictValues, d.values) }
            case "items": return method { _ in .iter(.dictItems, d.pairs.map { .tuple([$0.0, $0.1]) }) }
            case "get": return method { a in
                guard let key = a.get(0, "key") else { throw TemplateError(kind: .type, message: "get expected at least 1 argument, got 0") }
                return d[key] ?? a.get(1, "default") ?? .none
            }
            case "copy": return method { _ in .dict(d) }
            default: return nil
            }
        case .list(let arr), .tuple(let arr):
            if case .list = obj, unsafeListMethods.contains(name) { return unsafe() }
            switch name {
            case "count": return method { a in .int(arr.filter { valuesEqual($0, a.get(0, "value") ?? .none) }.count) }
            case "index": return method { a in
                let v = a.get(0, "value") ?? .none
                guard let i = arr.firstIndex(where: { valuesEqual($0, v) }) else {
                    throw TemplateError(kind: .type, message: "\((try? v.repr()) ?? "value") is not in list")
                }
                return .int(i)
            }
            case "copy" where obj.isList: return method { _ in .list(arr) }
            default: return nil
            }
        default:
            return nil
        }
    }

    private func stringMethod(_ s: String, _ name: String) -> ((CallArgs) throws -> Value)? {
        let sc = Array(s.unicodeScalars)
        switch name {
        case "upper": return { _ in .string(s.uppercased()) }
        case "lower": return { _ in .string(s.lowercased()) }
        case "title": return { _ in .string(pythonTitle(s)) }
        case "capitalize": return { _ in .string(pythonCapitalize(s)) }
        case "swapcase": return { _ in
            .string(String(String.UnicodeScalarView(sc.flatMap { c -> [Unicode.Scalar] in
                let t = String(c)
                return Array((c.properties.isUppercase ? t.lowercased() : c.properties.isLowercase ? t.uppercased() : t).unicodeScalars)
            })))
        }
        case "strip", "lstrip", "rstrip": return { a in
            try a.requireAtMost(1)
            let chars = try a.string(0, "chars").map { Set($0.unicodeScalars) }
            return .string(pyStrip(sc, chars, left: name != "rstrip", right: name != "lstrip"))
        }
        case "startswith", "endswith": return { a in
            guard let arg = a.get(0, "prefix") else { throw TemplateError(kind: .type, message: "\(name)() takes at least 1 argument (0 given)") }
            var candidates: [String] = []
            switch arg {
            case .string(let p): candidates = [p]
            case .tuple(let items):
                for it in items {
                    guard case .string(let p) = it else { throw TemplateError(kind: .type, message: "tuple for \(name) must only contain str, not \(it.typeName)") }
                    candidates.append(p)
                }
            default: throw TemplateError(kind: .type, message: "\(name) first arg must be str or a tuple of str, not \(arg.typeName)")
            }
            return .bool(candidates.contains { p in
                let ps = Array(p.unicodeScalars)
                guard ps.count <= sc.count else { return false }
                return name == "startswith" ? Array(sc[0..<ps.count]) == ps : Array(sc[(sc.count - ps.count)...]) == ps
            })
        }
        case "split", "rsplit": return { a in
            try a.requireAtMost(2)
            let sep = try a.string(0, "sep")
            let maxsplit = try a.int(1, "maxsplit") ?? -1
            if let sep, sep.isEmpty { throw TemplateError(kind: .type, message: "empty separator") }
            let parts = pySplit(sc, sep.map { Array($0.unicodeScalars) }, maxsplit: maxsplit, fromRight: name == "rsplit")
            return .list(parts.map { .string($0) })
        }
        case "splitlines": return { a in
            let keep = a.get(0, "keepends")?.truthy ?? false
            var out: [Value] = []
            var cur = String.UnicodeScalarView()
            var i = 0
            while i < sc.count {
                let c = sc[i]
                let breaks: Set<Unicode.Scalar> = ["\n", "\r", "\u{0B}", "\u{0C}", "\u{1C}", "\u{1D}", "\u{1E}", "\u{85}", "\u{2028}", "\u{2029}"]
                if breaks.contains(c) {
                    var end = String.UnicodeScalarView([c])
                    if c == "\r", i + 1 < sc.count, sc[i + 1] == "\n" { end.append("\n"); i += 1 }
                    if keep { cur.append(contentsOf: end) }
                    out.append(.string(String(cur)))
                    cur = String.UnicodeScalarView()
                } else {
                    cur.append(c)
                }
                i += 1
            }
            if !cur.isEmpty { out.append(.string(String(cur))) }
            return .list(out)
        }
        case "replace": return { a in
            guard let old = try a.string(0, "old"), let new = try a.string(1, "new") else {
                throw TemplateError(kind: .type, message: "replace expected at least 2 arguments")
            }
            return .string(pyReplace(sc, Array(old.unicodeScalars), Array(new.unicodeScalars), count: try a.int(2, "count") ?? -1))
        }
        case "count": return { a in
            guard let sub = try a.string(0, "sub") else { throw TemplateError(kind: .type, message: "count() takes at least 1 argument") }
            let n = Array(sub.unicodeScalars)
            if n.isEmpty { return .int(sc.count + 1) }
            var c = 0, i = 0
            while let f = scalarFind(sc, n, from: i) { c += 1; i = f + n.count }
            return .int(c)
        }
        case "find", "index", "rfind", "rindex": return { a in
            guard let sub = try a.string(0, "sub") else { throw TemplateError(kind: .type, message: "\(name)() takes at least 1 argument") }
            let n = Array(sub.unicodeScalars)
            var found: Int? = nil
            if name.hasPrefix("r") {
                var i = 0
                while let f = scalarFind(sc, n, from: i) { found = f; i = f + 1; if n.isEmpty && f >= sc.count { break } }
            } else {
                found = scalarFind(sc, n, from: try a.int(1, "start") ?? 0)
            }
            if found == nil && name.hasSuffix("index") { throw TemplateError(kind: .type, message: "substring not found") }
            return .int(found ?? -1)
        }
        case "join": return { a in
            guard let arg = a.get(0, "iterable") else { throw TemplateError(kind: .type, message: "join() takes exactly one argument") }
            let parts = try arg.iterate().map { v -> String in
                guard case .string(let p) = v else { throw TemplateError(kind: .type, message: "sequence item: expected str instance, \(v.typeName) found") }
                return p
            }
            return .string(parts.joined(separator: s))
        }
        case "format": return { a in .string(try pythonFormat(s, a.args, a.kwargs)) }
        case "isdigit", "isnumeric", "isdecimal": return { _ in .bool(!sc.isEmpty && sc.allSatisfy { $0.properties.numericType != nil }) }
        case "isalpha": return { _ in .bool(!sc.isEmpty && sc.allSatisfy { $0.properties.isAlphabetic }) }
        case "isalnum": return { _ in .bool(!sc.isEmpty && sc.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil }) }
        case "isspace": return { _ in .bool(!sc.isEmpty && sc.allSatisfy(isSpace)) }
        case "islower": return { _ in .bool(sc.contains { $0.properties.isCased } && !sc.contains { $0.properties.isUppercase }) }
        case "isupper": return { _ in .bool(sc.contains { $0.properties.isCased } && !sc.contains { $0.properties.isLowercase }) }
        case "removeprefix", "removesuffix": return { a in
            let p = Array((try a.string(0, "prefix") ?? "").unicodeScalars)
            if p.isEmpty || p.count > sc.count { return .string(s) }
            if name == "removeprefix" { return .string(Array(sc[0..<p.count]) == p ? String(String.UnicodeScalarView(sc[p.count...])) : s) }
            return .string(Array(sc[(sc.count - p.count)...]) == p ? String(String.UnicodeScalarView(sc[..<(sc.count - p.count)])) : s)
        }
        case "ljust", "rjust", "center": return { a in
            let width = try a.int(0, "width") ?? 0
            let fill = try a.string(1, "fillchar") ?? " "
            let pad = max(0, width - sc.count)
            switch name {
            case "ljust": return .string(s + String(repeating: fill, count: pad))
            case "rjust": return .string(String(repeating: fill, count: pad) + s)
            default:
                // CPython's pad split: the odd extra space goes left only when width is odd too.
                let left = pad / 2 + (pad & width & 1)
                return .string(String(repeating: fill, count: left) + s + String(repeating: fill, count: pad - left))
            }
        }
        default: return nil
        }
    }
}

func pyStrip(_ sc: [Unicode.Scalar], _ chars: Set<Unicode.Scalar>?, left: Bool, right: Bool) -> String {
    let drop: (Unicode.Scalar) -> Bool = { c in chars.map { $0.contains(c) } ?? isSpace(c) }
    var a = 0, b = sc.count
    if left { while a < b, drop(sc[a]) { a += 1 } }
    if right { while b > a, drop(sc[b - 1]) { b -= 1 } }
    return String(String.UnicodeScalarView(sc[a..<b]))
}

func pySplit(_ sc: [Unicode.Scalar], _ sep: [Unicode.Scalar]?, maxsplit: Int, fromRight: Bool) -> [String] {
    func str(_ x: ArraySlice<Unicode.Scalar>) -> String { String(String.UnicodeScalarView(x)) }
    if let sep {
        var pieces: [String] = []
        if !fromRight {
            var start = 0
            while maxsplit < 0 || pieces.count < maxsplit, let f = scalarFind(sc, sep, from: start) {
                pieces.append(str(sc[start..<f]))
                start = f + sep.count
            }
            pieces.append(str(sc[start...]))
            return pieces
        }
        // Right split: find occurrences from the end.
        var end = sc.count
        var rev: [String] = []
        while maxsplit < 0 || rev.count < maxsplit {
            var found: Int? = nil
            var i = end - sep.count
            while i >= 0 {
                if Array(sc[i..<(i + sep.count)]) == sep { found = i; break }
                i -= 1
            }
            guard let f = found else { break }
            rev.append(str(sc[(f + sep.count)..<end]))
            end = f
        }
        rev.append(str(sc[0..<end]))
        return rev.reversed()
    }
    // Whitespace split: runs of whitespace separate; leading/trailing whitespace ignored.
    var words: [(Int, Int)] = []
    var i = 0
    while i < sc.count {
        while i < sc.count, isSpace(sc[i]) { i += 1 }
        if i >= sc.count { break }
        let start = i
        while i < sc.count, !isSpace(sc[i]) { i += 1 }
        words.append((start, i))
    }
    if maxsplit < 0 || words.count <= maxsplit + 1 { return words.map { str(sc[$0.0..<$0.1]) } }
    if !fromRight {
        var out = words.prefix(maxsplit).map { str(sc[$0.0..<$0.1]) }
        var restEnd = sc.count
        while restEnd > 0, isSpace(sc[restEnd - 1]) { restEnd -= 1 }
        out.append(str(sc[words[maxsplit].0..<restEnd]))
        return out
    }
    let keep = words.suffix(maxsplit)
    var restStart = 0
    while restStart < sc.count, isSpace(sc[restStart]) { restStart += 1 }
    return [str(sc[restStart..<words[words.count - maxsplit - 1].1])] + keep.map { str(sc[$0.0..<$0.1]) }
}

func pyReplace(_ sc: [Unicode.Scalar], _ old: [Unicode.Scalar], _ new: [Unicode.Scalar], count: Int) -> String {
    var out = String.UnicodeScalarView()
    var n = 0
    if old.isEmpty {
        // Python inserts `new` between every character (and at both ends).
        for c in sc {
            if count < 0 || n < count { out.append(contentsOf: new); n += 1 }
            out.append(c)
        }
        if count < 0 || n < count { out.append(contentsOf: new) }
        return String(out)
    }
    var i = 0
    while count < 0 || n < count, let f = scalarFind(sc, old, from: i) {
        out.append(contentsOf: sc[i..<f])
        out.append(contentsOf: new)
        i = f + old.count
        n += 1
    }
    out.append(contentsOf: sc[i...])
    return String(out)
}

/// Python str.title: a cased character after an uncased one is titlecased, other cased ones lowercased.
func pythonTitle(_ s: String) -> String {
    var out = ""
    var prevCased = false
    for c in s.unicodeScalars {
        let t = String(c)
        if c.properties.isCased {
            out += prevCased ? t.lowercased() : c.properties.titlecaseMapping
            prevCased = true
        } else {
            out += t
            prevCased = false
        }
    }
    return out
}

/// Python str.capitalize: first character titlecased, the rest lowercased.
func pythonCapitalize(_ s: String) -> String {
    guard let first = s.unicodeScalars.first else { return s }
    return first.properties.titlecaseMapping + String(String.UnicodeScalarView(s.unicodeScalars.dropFirst())).lowercased()
}
