import Foundation

/// Variable scope. `for` iterations and macro calls get a child scope; `if` does not (as in jinja2).
final class Scope {
    var vars: [String: Value] = [:]
    let parent: Scope?
    init(parent: Scope?) { self.parent = parent }

    func lookup(_ name: String) -> Value? {
        var s: Scope? = self
        while let cur = s {
            if let v = cur.vars[name] { return v }
            s = cur.parent
        }
        return nil
    }
}

/// The `loop` variable of a for loop.
final class LoopObject: TemplateObject {
    let items: [Value]
    var index0 = 0
    var lastChanged: Value?
    var hasChanged = false
    init(items: [Value]) { self.items = items }
    override var typeName: String { "LoopContext" }

    override func attribute(_ name: String) -> Value? {
        let n = items.count
        switch name {
        case "index": return .int(index0 + 1)
        case "index0": return .int(index0)
        case "revindex": return .int(n - index0)
        case "revindex0": return .int(n - index0 - 1)
        case "first": return .bool(index0 == 0)
        case "last": return .bool(index0 == n - 1)
        case "length": return .int(n)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem": return index0 > 0 ? items[index0 - 1] : .undef("there is no previous item")
        case "nextitem": return index0 + 1 < n ? items[index0 + 1] : .undef("there is no next item")
        case "cycle":
            // Strong captures: a template may keep `loop.cycle` in a variable past the loop.
            return .callable(Callable("loop.cycle") { [self] args, _ in
                guard !args.isEmpty else { throw TemplateError(kind: .type, message: "no items for cycling given") }
                return args[self.index0 % args.count]
            })
        case "changed":
            return .callable(Callable("loop.changed") { [self] args, _ in
                let v = Value.tuple(args)
                if self.hasChanged, let last = self.lastChanged, valuesEqual(last, v) { return .bool(false) }
                self.hasChanged = true
                self.lastChanged = v
                return .bool(true)
            })
        default: return nil
        }
    }
}

/// Break/continue travel up to the enclosing loop as results, not exceptions.
enum Flow { case normal, breakLoop, continueLoop }

struct RenderEnvironment {
    var now: Date
    var timeZone: TimeZone
}

final class Interpreter {
    let env: RenderEnvironment
    let globals: Scope
    /// Nested macro calls; bounded so runaway recursion throws instead of overflowing the stack.
    private var callDepth = 0

    init(env: RenderEnvironment, context: [String: Value]) {
        self.env = env
        globals = Scope(parent: nil)
        installGlobals()
        for (k, v) in context { globals.vars[k] = v }
    }

    func render(_ nodes: [Node]) throws -> String {
        var out = ""
        let root = Scope(parent: globals)
        _ = try exec(nodes, root, &out)
        return out
    }

    // MARK: statements

    func exec(_ nodes: [Node], _ scope: Scope, _ out: inout String) throws -> Flow {
        for node in nodes {
            switch node {
            case .text(let s):
                out += s
            case .output(let e, let pos):
                do { out += try eval(e, scope).str() } catch let err as TemplateError { throw err.at(pos) }
            case .ifChain(let branches, let otherwise):
                var taken = false
                for (cond, body) in branches where try eval(cond, scope).truthy {
                    taken = true
                    let f = try exec(body, scope, &out)
                    if f != .normal { return f }
                    break
                }
                if !taken {
                    let f = try exec(otherwise, scope, &out)
                    if f != .normal { return f }
                }
            case .forLoop(let target, let iterExpr, let filter, let body, let otherwise, let pos):
                try execFor(target, iterExpr, filter, body, otherwise, pos, scope, &out)
            case .set(let target, let e, let pos):
                do { try assign(target, try eval(e, scope), scope) } catch let err as TemplateError { throw err.at(pos) }
            case .setBlock(let target, let filters, let body, let pos):
                var captured = ""
                _ = try exec(body, Scope(parent: scope), &captured)
                do {
                    var v = Value.string(captured)
                    for f in filters { v = try applyFilterExpr(f, input: v, scope) }
                    try assign(target, v, scope)
                } catch let err as TemplateError { throw err.at(pos) }
            case .macro(let def):
                scope.vars[def.name] = .callable(makeMacro(def, scope, caller: nil))
            case .callBlock(let callExpr, let params, let body, let pos):
                do {
                    let caller = makeMacro(MacroDef(name: "caller", params: params, body: body), scope, caller: nil)
                    guard case .call(let fnExpr, let args, _) = callExpr else { throw TemplateError(kind: .syntax, message: "expected call") }
                    let fn = try eval(fnExpr, scope)
                    var (pos0, kw) = try evalArgs(args, scope)
                    kw.append(("caller", .callable(caller)))
                    out += try callValue(fn, pos0, kw).str()
                } catch let err as TemplateError { throw err.at(pos) }
            case .filterBlock(let filters, let body, let pos):
                var captured = ""
                _ = try exec(body, scope, &captured)
                do {
                    var v = Value.string(captured)
                    for f in filters { v = try applyFilterExpr(f, input: v, scope) }
                    out += try v.str()
                } catch let err as TemplateError { throw err.at(pos) }
            case .loopBreak:
                return .breakLoop
            case .loopContinue:
                return .continueLoop
            }
        }
        return .normal
    }

    private func execFor(_ target: Target, _ iterExpr: Expr, _ filter: Expr?, _ body: [Node], _ otherwise: [Node],
                         _ pos: Pos, _ scope: Scope, _ out: inout String) throws {
        var items: [Value]
        do { items = try eval(iterExpr, scope).iterate() } catch let err as TemplateError { throw err.at(pos) }
        if let filter {
            // The inline `if` filters before loop.length/last are computed.
            items = try items.filter { item in
                let s = Scope(parent: scope)
                try assign(target, item, s)
                return try eval(filter, s).truthy
            }
        }
        if items.isEmpty {
            _ = try exec(otherwise, scope, &out)
            return
        }
        let loop = LoopObject(items: items)
        for (i, item) in items.enumerated() {
            loop.index0 = i
            let s = Scope(parent: scope)
            s.vars["loop"] = .object(loop)
            do { try assign(target, item, s) } catch let err as TemplateError { throw err.at(pos) }
            if try exec(body, s, &out) == .breakLoop { break }
        }
    }

    func assign(_ target: Target, _ value: Value, _ scope: Scope) throws {
        switch target {
        case .name(let n):
            scope.vars[n] = value
        case .tuple(let targets):
            let items = try value.iterate()
            guard items.count == targets.count else {
                throw TemplateError(kind: .type, message: items.count > targets.count
                    ? "too many values to unpack (expected \(targets.count))"
                    : "not enough values to unpack (expected \(targets.count), got \(items.count))")
            }
            for (t, v) in zip(targets, items) { try assign(t, v, scope) }
        case .attribute(let obj, let attr, let pos):
            guard case .object(let o as Namespace)? = scope.lookup(obj) else {
                throw TemplateError(kind: .type, message: "cannot assign attribute on non-namespace object", line: pos.line, column: pos.column)
            }
            if attr.hasPrefix("_") {
                throw TemplateError(kind: .security, message: "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(attr)'. Please rename the attribute.")
            }
            o.dict[.string(attr)] = value
        }
    }

    private func makeMacro(_ def: MacroDef, _ defScope: Scope, caller: Callable?) -> Callable {
        // Unowned: macros live in this interpreter's scopes and never outlive a render.
        Callable(def.name) { [unowned self] args, kwargs in
            guard self.callDepth < 100 else {
                throw TemplateError(kind: .type, message: "maximum macro recursion depth exceeded in \(def.name)")
            }
            self.callDepth += 1
            defer { self.callDepth -= 1 }
            let s = Scope(parent: defScope)
            var kw = kwargs
            for (i, (name, dflt)) in def.params.enumerated() {
                if i < args.count {
                    s.vars[name] = args[i]
                } else if let k = kw.firstIndex(where: { $0.0 == name }) {
                    s.vars[name] = kw[k].1
                    kw.remove(at: k)
                } else if let dflt {
                    s.vars[name] = try self.eval(dflt, s)
                } else {
                    s.vars[name] = .undef("parameter '\(name)' was not provided")
                }
            }
            if let k = kw.firstIndex(where: { $0.0 == "caller" }) {
                s.vars["caller"] = kw[k].1
                kw.remove(at: k)
            }
            s.vars["varargs"] = .tuple(args.count > def.params.count ? Array(args[def.params.count...]) : [])
            var extra = Dict()
            for (k, v) in kw { extra[.string(k)] = v }
            s.vars["kwargs"] = .dict(extra)
            var out = ""
            _ = try self.exec(def.body, s, &out)
            return .string(out)
        }
    }

    // MARK: expressions

    func eval(_ e: Expr, _ scope: Scope) throws -> Value {
        switch e {
        case .literal(let v): return v
        case .name(let n, _):
            return scope.lookup(n) ?? .undef("'\(n)' is undefined")
        case .list(let items): return .list(try items.map { try eval($0, scope) })
        case .tuple(let items): return .tuple(try items.map { try eval($0, scope) })
        case .dict(let pairs):
            var d = Dict()
            for (k, v) in pairs { d[try eval(k, scope)] = try eval(v, scope) }
            return .dict(d)
        case .attribute(let obj, let name, let pos):
            do { return try getAttribute(try eval(obj, scope), name) } catch let err as TemplateError { throw err.at(pos) }
        case .item(let obj, let index, let pos):
            do { return try getItem(try eval(obj, scope), try eval(index, scope)) } catch let err as TemplateError { throw err.at(pos) }
        case .slice(let obj, let a, let b, let c, let pos):
            do {
                let v = try eval(obj, scope)
                return try sliceValue(v, try a.map { try eval($0, scope) }, try b.map { try eval($0, scope) }, try c.map { try eval($0, scope) })
            } catch let err as TemplateError { throw err.at(pos) }
        case .call(let fnExpr, let args, let pos):
            do {
                let fn = try eval(fnExpr, scope)
                let (a, kw) = try evalArgs(args, scope)
                return try callValue(fn, a, kw)
            } catch let err as TemplateError { throw err.at(pos) }
        case .filter(let input, let name, let args, let pos):
            do {
                guard let input else { throw TemplateError(kind: .syntax, message: "filter without input") }
                let v = try eval(input, scope)
                let (a, kw) = try evalArgs(args, scope)
                return try applyFilter(name, v, a, kw)
            } catch let err as TemplateError { throw err.at(pos) }
        case .test(let input, let name, let args, let negated, let pos):
            do {
                let v = try eval(input, scope)
                let (a, kw) = try evalArgs(args, scope)
                let r = try applyTest(name, v, a, kw)
                return .bool(negated ? !r : r)
            } catch let err as TemplateError { throw err.at(pos) }
        case .not(let x): return .bool(!(try eval(x, scope).truthy))
        case .negate(let x, let pos):
            do { return try negate(try eval(x, scope)) } catch let err as TemplateError { throw err.at(pos) }
        case .plus(let x, let pos):
            do {
                let v = try eval(x, scope)
                return try binary(.add, .int(0), v)
            } catch let err as TemplateError { throw err.at(pos) }
        case .binary(let op, let l, let r, let pos):
            switch op {
            case .and:
                let a = try eval(l, scope)
                return a.truthy ? try eval(r, scope) : a
            case .or:
                let a = try eval(l, scope)
                return a.truthy ? a : try eval(r, scope)
            default:
                do { return try binary(op, try eval(l, scope), try eval(r, scope)) } catch let err as TemplateError { throw err.at(pos) }
            }
        case .compare(let first, let ops, let pos):
            do {
                var left = try eval(first, scope)
                for (op, rexpr) in ops {
                    let right = try eval(rexpr, scope)
                    if !(try compare(op, left, right)) { return .bool(false) }
                    left = right
                }
                return .bool(true)
            } catch let err as TemplateError { throw err.at(pos) }
        case .conditional(let test, let then, let otherwise):
            if try eval(test, scope).truthy { return try eval(then, scope) }
            guard let otherwise else { return .undef("the inline if-expression evaluated to false and no else section was defined.") }
            return try eval(otherwise, scope)
        }
    }

    func evalArgs(_ args: Args, _ scope: Scope) throws -> ([Value], [(String, Value)]) {
        var pos = try args.positional.map { try eval($0, scope) }
        var kw = try args.keyword.map { ($0.0, try eval($0.1, scope)) }
        if let star = args.star { pos += try eval(star, scope).iterate() }
        if let ds = args.doubleStar {
            guard case .dict(let d) = try eval(ds, scope) else { throw TemplateError(kind: .type, message: "argument after ** must be a mapping") }
            for (k, v) in d.pairs { kw.append((try k.str(), v)) }
        }
        return (pos, kw)
    }

    func callValue(_ fn: Value, _ args: [Value], _ kwargs: [(String, Value)]) throws -> Value {
        switch fn {
        case .callable(let c): return try c.call(args, kwargs)
        case .undefined(let u): throw TemplateError(kind: u.security ? .security : .undefined, message: u.message)
        default: throw TemplateError(kind: .type, message: "'\(fn.typeName)' object is not callable")
        }
    }

    /// `{% set x | f %}` / `{% filter f %}`: the chain entries are filters with the body as input.
    private func applyFilterExpr(_ f: Expr, input: Value, _ scope: Scope) throws -> Value {
        guard case .filter(nil, let name, let args, _) = f else { throw TemplateError(kind: .syntax, message: "expected filter") }
        let (a, kw) = try evalArgs(args, scope)
        return try applyFilter(name, input, a, kw)
    }
}
