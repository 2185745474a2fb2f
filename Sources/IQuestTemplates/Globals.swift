import Foundation

/// Global functions: jinja2's `range`, `dict`, `namespace` and transformers' `raise_exception`, `strftime_now`.
extension Interpreter {
    func installGlobals() {
        globals.vars["range"] = .callable(Callable("range") { args, _ in
            let ints = try args.map { v -> Int in
                guard let n = Num(v), case .int(let i) = n else { throw TemplateError(kind: .type, message: "'\(v.typeName)' object cannot be interpreted as an integer") }
                return i
            }
            var start = 0, stop = 0, step = 1
            switch ints.count {
            case 1: stop = ints[0]
            case 2: start = ints[0]; stop = ints[1]
            case 3: start = ints[0]; stop = ints[1]; step = ints[2]
            default: throw TemplateError(kind: .type, message: "range expected 1 to 3 arguments, got \(ints.count)")
            }
            guard step != 0 else { throw TemplateError(kind: .type, message: "range() arg 3 must not be zero") }
            var items: [Value] = []
            var i = start
            // The sandbox caps ranges at 100000 items (MAX_RANGE).
            while step > 0 ? i < stop : i > stop {
                items.append(.int(i))
                if items.count > 100_000 { throw TemplateError(kind: .security, message: "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).") }
                i += step
            }
            return .range(start, stop, step, items)
        })
        globals.vars["dict"] = .callable(Callable("dict") { args, kwargs in
            var d = Dict()
            if let first = args.first {
                switch first {
                case .dict(let src): d = src
                default:
                    for pair in try first.iterate() {
                        let kv = try pair.iterate()
                        guard kv.count == 2 else { throw TemplateError(kind: .type, message: "dictionary update sequence element has length \(kv.count); 2 is required") }
                        d[kv[0]] = kv[1]
                    }
                }
            }
            for (k, v) in kwargs { d[.string(k)] = v }
            return .dict(d)
        })
        globals.vars["namespace"] = .callable(Callable("namespace") { args, kwargs in
            let ns = Namespace()
            if let first = args.first {
                guard case .dict(let src) = first else { throw TemplateError(kind: .type, message: "namespace() takes a mapping") }
                ns.dict = src
            }
            for (k, v) in kwargs {
                if k.hasPrefix("_") {
                    throw TemplateError(kind: .security, message: "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(k)'. Please rename the attribute.")
                }
                ns.dict[.string(k)] = v
            }
            return .object(ns)
        })
        globals.vars["raise_exception"] = .callable(Callable("raise_exception") { args, kwargs in
            let m = args.first ?? kwargs.first { $0.0 == "message" }?.1 ?? .string("")
            throw TemplateError(kind: .raised, message: try m.str())
        })
        let env = self.env
        globals.vars["strftime_now"] = .callable(Callable("strftime_now") { args, kwargs in
            guard case .string(let f)? = args.first ?? kwargs.first(where: { $0.0 == "format" })?.1 else {
                throw TemplateError(kind: .type, message: "strftime_now() argument must be str")
            }
            return .string(try strftime(f, env.now, env.timeZone))
        })
    }
}
