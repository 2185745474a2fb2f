/// Expression parser over one tag's tokens, with jinja2's precedence:
/// condexpr < or < and < not < compare < +,- < ~ < *,/,//,% < ** (left-assoc) < unary < postfix/filters.
struct TokenStream {
    private let tokens: [Token]
    private var i = 0
    /// What jinja2 calls the end token ("end of print statement" / "end of statement block").
    private let endName: String
    private let tagPos: Pos

    init(_ tokens: [Token], end: String, pos: Pos) {
        self.tokens = tokens
        self.endName = end
        self.tagPos = pos
    }

    var current: Token? { i < tokens.count ? tokens[i] : nil }
    private var look: Token? { i + 1 < tokens.count ? tokens[i + 1] : nil }
    mutating func advance() { i += 1 }

    private var here: Pos { current?.pos ?? tagPos }

    private func describe(_ t: Token?) -> String {
        guard let t else { return endName }
        switch t.kind {
        case .string: return "string"
        case .int: return "integer"
        case .float: return "float"
        default: return t.text
        }
    }

    func fail(_ message: String) -> TemplateError {
        TemplateError(kind: .syntax, message: message, line: here.line, column: here.column)
    }

    func isOp(_ op: String) -> Bool { current?.kind == .op && current?.text == op }
    func isName(_ n: String) -> Bool { current?.kind == .name && current?.text == n }

    mutating func skipOp(_ op: String) -> Bool {
        if isOp(op) { i += 1; return true }
        return false
    }

    mutating func skipName(_ n: String) -> Bool {
        if isName(n) { i += 1; return true }
        return false
    }

    mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw fail("expected token '\(op)', got '\(describe(current))'") }
    }

    mutating func expectName(_ n: String) throws {
        guard skipName(n) else { throw fail("expected token '\(n)', got '\(describe(current))'") }
    }

    mutating func expectIdentifier() throws -> String {
        guard let t = current, t.kind == .name else { throw fail("expected name, got '\(describe(current))'") }
        i += 1
        return t.text
    }

    func expectEnd() throws {
        if let t = current { throw fail("expected '\(endName)', got '\(describe(t))'") }
    }

    // MARK: targets and signatures

    mutating func parseAssignTarget(allowNamespace: Bool) throws -> Target {
        if allowNamespace, let t = current, t.kind == .name, look?.kind == .op, look?.text == "." {
            i += 2
            let attr = try expectIdentifier()
            return .attribute(t.text, attr, t.pos)
        }
        var items: [Target] = []
        var isTuple = false
        repeat {
            if current == nil || isOp("=") || isName("in") || isOp("|") { break }
            items.append(try parseTargetPrimary())
            if isOp(",") { isTuple = true } else { break }
        } while skipOp(",")
        guard !items.isEmpty else { throw fail("expected assignment target, got '\(describe(current))'") }
        return isTuple || items.count > 1 ? .tuple(items) : items[0]
    }

    private mutating func parseTargetPrimary() throws -> Target {
        if skipOp("(") {
            var items: [Target] = []
            while !isOp(")") {
                items.append(try parseTargetPrimary())
                if !skipOp(",") { break }
            }
            try expectOp(")")
            return .tuple(items)
        }
        let name = try expectIdentifier()
        if ["true", "false", "none", "True", "False", "None"].contains(name) { throw fail("can't assign to '\(name)'") }
        return .name(name)
    }

    mutating func parseSignature() throws -> [(String, Expr?)] {
        try expectOp("(")
        var params: [(String, Expr?)] = []
        while !isOp(")") {
            if !params.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let name = try expectIdentifier()
            params.append((name, skipOp("=") ? try parseExpression() : nil))
        }
        try expectOp(")")
        return params
    }

    /// `| f(args) | g` after `{% set x %}` or `{% filter %}`; each becomes a filter with no input.
    mutating func parseFilterChain(requireFirstBar: Bool = true) throws -> [Expr] {
        var out: [Expr] = []
        var first = true
        while current != nil {
            if !(first && !requireFirstBar) { try expectOp("|") }
            first = false
            out.append(try parseFilter(nil))
        }
        return out
    }

    // MARK: expressions

    mutating func parseTuple(withCondexpr: Bool = true, explicitParens: Bool = false, extraEnd: [String] = []) throws -> Expr {
        var items: [Expr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if current == nil || isOp(")") || (current?.kind == .name && extraEnd.contains(current?.text ?? "")) { break }
            items.append(withCondexpr ? try parseExpression() : try parseOr())
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if items.count == 1 { return items[0] }
            if !explicitParens { throw fail("Expected an expression, got '\(describe(current))'") }
        }
        return .tuple(items)
    }

    mutating func parseExpression() throws -> Expr {
        var e = try parseOr()
        while skipName("if") {
            let test = try parseOr()
            let otherwise: Expr? = skipName("else") ? try parseExpression() : nil
            e = .conditional(test: test, then: e, otherwise: otherwise)
        }
        return e
    }

    private mutating func parseOr() throws -> Expr {
        var e = try parseAnd()
        while let p = current?.pos, skipName("or") { e = .binary(.or, e, try parseAnd(), p) }
        return e
    }

    private mutating func parseAnd() throws -> Expr {
        var e = try parseNot()
        while let p = current?.pos, skipName("and") { e = .binary(.and, e, try parseNot(), p) }
        return e
    }

    private mutating func parseNot() throws -> Expr {
        if skipName("not") { return .not(try parseNot()) }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
        let p = here
        let left = try parseMath1()
        var ops: [(CompareOp, Expr)] = []
        while true {
            if let t = current, t.kind == .op, let op = CompareOp(rawValue: t.text), op != .isIn, op != .notIn {
                i += 1
                ops.append((op, try parseMath1()))
            } else if skipName("in") {
                ops.append((.isIn, try parseMath1()))
            } else if isName("not"), look?.kind == .name, look?.text == "in" {
                i += 2
                ops.append((.notIn, try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? left : .compare(left, ops, p)
    }

    private mutating func parseMath1() throws -> Expr {
        var e = try parseConcat()
        while let t = current, t.kind == .op, t.text == "+" || t.text == "-" {
            i += 1
            e = .binary(t.text == "+" ? .add : .sub, e, try parseConcat(), t.pos)
        }
        return e
    }

    private mutating func parseConcat() throws -> Expr {
        var e = try parseMath2()
        while let p = current?.pos, skipOp("~") { e = .binary(.concat, e, try parseMath2(), p) }
        return e
    }

    private mutating func parseMath2() throws -> Expr {
        var e = try parsePow()
        while let t = current, t.kind == .op, let op = ["*": BinaryOp.mul, "/": .div, "//": .floordiv, "%": .mod][t.text] {
            i += 1
            e = .binary(op, e, try parsePow(), t.pos)
        }
        return e
    }

    private mutating func parsePow() throws -> Expr {
        var e = try parseUnary()
        while let p = current?.pos, skipOp("**") { e = .binary(.pow, e, try parseUnary(), p) }
        return e
    }

    private mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
        var e: Expr
        let p = here
        if skipOp("-") {
            e = .negate(try parseUnary(withFilter: false), p)
        } else if skipOp("+") {
            e = .plus(try parseUnary(withFilter: false), p)
        } else {
            e = try parsePrimary()
        }
        e = try parsePostfix(e)
        if withFilter { e = try parseFilterExpr(e) }
        return e
    }

    private mutating func parsePrimary() throws -> Expr {
        guard let t = current else { throw fail("unexpected '\(endName)'") }
        switch t.kind {
        case .name:
            i += 1
            switch t.text {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(t.text, t.pos)
            }
        case .string:
            var s = t.text
            i += 1
            while let n = current, n.kind == .string { s += n.text; i += 1 }
            return .literal(.string(s))
        case .int:
            i += 1
            return .literal(.int(t.intValue))
        case .float:
            i += 1
            return .literal(.double(t.floatValue))
        case .op:
            switch t.text {
            case "(":
                i += 1
                let e = try parseTuple(explicitParens: true)
                try expectOp(")")
                return e
            case "[":
                i += 1
                var items: [Expr] = []
                while !isOp("]") {
                    if !items.isEmpty { try expectOp(",") }
                    if isOp("]") { break }
                    items.append(try parseExpression())
                }
                try expectOp("]")
                return .list(items)
            case "{":
                i += 1
                var items: [(Expr, Expr)] = []
                while !isOp("}") {
                    if !items.isEmpty { try expectOp(",") }
                    if isOp("}") { break }
                    let k = try parseExpression()
                    try expectOp(":")
                    items.append((k, try parseExpression()))
                }
                try expectOp("}")
                return .dict(items)
            default:
                throw fail("unexpected '\(t.text)'")
            }
        }
    }

    private mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var e = start
        while let t = current, t.kind == .op {
            if t.text == "." {
                i += 1
                guard let n = current else { throw fail("expected name or number") }
                i += 1
                if n.kind == .name {
                    e = .attribute(e, n.text, n.pos)
                } else if n.kind == .int {
                    e = .item(e, .literal(.int(n.intValue)), n.pos)
                } else {
                    throw fail("expected name or number")
                }
            } else if t.text == "[" {
                i += 1
                e = try parseSubscript(e, t.pos)
                try expectOp("]")
            } else if t.text == "(" {
                e = .call(e, try parseCallArgs(), t.pos)
            } else {
                break
            }
        }
        return e
    }

    private mutating func parseSubscript(_ target: Expr, _ p: Pos) throws -> Expr {
        var parts: [Expr?] = []
        var isSlice = false
        var cur: Expr? = nil
        while !isOp("]") {
            if skipOp(":") {
                isSlice = true
                parts.append(cur)
                cur = nil
                continue
            }
            if cur != nil { throw fail("expected ']' or ':'") }
            if isOp(",") { throw TemplateError(kind: .unsupported, message: "tuple subscripts are not supported", line: p.line, column: p.column) }
            cur = try parseExpression()
        }
        parts.append(cur)
        if !isSlice {
            guard let index = parts[0] else { throw fail("expected subscript expression") }
            return .item(target, index, p)
        }
        guard parts.count <= 3 else { throw fail("too many ':' in slice") }
        while parts.count < 3 { parts.append(nil) }
        return .slice(target, parts[0], parts[1], parts[2], p)
    }

    mutating func parseCallArgs() throws -> Args {
        try expectOp("(")
        var args = Args()
        var first = true
        while !isOp(")") {
            if !first { try expectOp(",") }
            first = false
            if isOp(")") { break }
            if skipOp("**") {
                args.doubleStar = try parseExpression()
            } else if skipOp("*") {
                args.star = try parseExpression()
            } else if let t = current, t.kind == .name, look?.kind == .op, look?.text == "=" {
                i += 2
                args.keyword.append((t.text, try parseExpression()))
            } else {
                if !args.keyword.isEmpty { throw fail("positional argument after keyword argument") }
                args.positional.append(try parseExpression())
            }
        }
        try expectOp(")")
        return args
    }

    private mutating func dottedName() throws -> String {
        var name = try expectIdentifier()
        while skipOp(".") { name += "." + (try expectIdentifier()) }
        return name
    }

    private mutating func parseFilter(_ input: Expr?) throws -> Expr {
        let p = here
        let name = try dottedName()
        let args = isOp("(") ? try parseCallArgs() : Args()
        return .filter(input, name, args, p)
    }

    private mutating func parseFilterExpr(_ start: Expr) throws -> Expr {
        var e = start
        while true {
            if skipOp("|") {
                e = try parseFilter(e)
            } else if isName("is") {
                let p = here
                i += 1
                let negated = skipName("not")
                let name = try dottedName()
                var args = Args()
                if isOp("(") {
                    args = try parseCallArgs()
                } else if let t = current, [TokKind.name, .string, .int, .float].contains(t.kind) || (t.kind == .op && ["[", "{", "("].contains(t.text)),
                          !(t.kind == .name && ["else", "or", "and"].contains(t.text)) {
                    if t.kind == .name && t.text == "is" { throw fail("You cannot chain multiple tests with is") }
                    args.positional = [try parsePostfix(try parsePrimary())]
                }
                e = .test(e, name, args, negated: negated, p)
            } else if isOp("(") {
                let p = here
                e = .call(e, try parseCallArgs(), p)
            } else {
                break
            }
        }
        return e
    }
}
