/// jinja2 resolves filter and test names when compiling: an unknown name is a compile error, except in
/// "soft" code (inside an `if` statement or an inline if-expression, not nested loops/macros/blocks),
/// where it only fails if executed. This pass reproduces that split.
enum NameCheck {
    static func nodes(_ nodes: [Node], soft: Bool) throws {
        for n in nodes {
            switch n {
            case .text, .loopBreak, .loopContinue: break
            case .output(let e, _): try expr(e, soft: soft)
            case .ifChain(let branches, let otherwise):
                for (cond, body) in branches {
                    try expr(cond, soft: true)
                    try self.nodes(body, soft: true)
                }
                try self.nodes(otherwise, soft: true)
            case .forLoop(_, let iter, let filter, let body, let otherwise, _):
                try expr(iter, soft: soft)
                if let filter { try expr(filter, soft: false) }
                try self.nodes(body, soft: false)
                try self.nodes(otherwise, soft: false)
            case .set(_, let e, _): try expr(e, soft: soft)
            case .setBlock(_, let filters, let body, _):
                for f in filters { try expr(f, soft: soft) }
                try self.nodes(body, soft: false)
            case .macro(let def):
                for (_, d) in def.params { if let d { try expr(d, soft: false) } }
                try self.nodes(def.body, soft: false)
            case .callBlock(let call, let params, let body, _):
                try expr(call, soft: soft)
                for (_, d) in params { if let d { try expr(d, soft: false) } }
                try self.nodes(body, soft: false)
            case .filterBlock(let filters, let body, _):
                for f in filters { try expr(f, soft: soft) }
                try self.nodes(body, soft: false)
            }
        }
    }

    static func expr(_ e: Expr, soft: Bool) throws {
        func args(_ a: Args) throws {
            for x in a.positional { try expr(x, soft: soft) }
            for (_, x) in a.keyword { try expr(x, soft: soft) }
            if let x = a.star { try expr(x, soft: soft) }
            if let x = a.doubleStar { try expr(x, soft: soft) }
        }
        switch e {
        case .literal, .name: break
        case .list(let xs), .tuple(let xs): for x in xs { try expr(x, soft: soft) }
        case .dict(let pairs): for (k, v) in pairs { try expr(k, soft: soft); try expr(v, soft: soft) }
        case .attribute(let x, _, _): try expr(x, soft: soft)
        case .item(let x, let i, _): try expr(x, soft: soft); try expr(i, soft: soft)
        case .slice(let x, let a, let b, let c, _):
            try expr(x, soft: soft)
            for y in [a, b, c] { if let y { try expr(y, soft: soft) } }
        case .call(let f, let a, _): try expr(f, soft: soft); try args(a)
        case .filter(let input, let name, let a, let pos):
            if let input { try expr(input, soft: soft) }
            try args(a)
            if !soft && !implementedFilters.contains(name) && !unimplementedFilters.contains(name) {
                throw TemplateError(kind: .assertion, message: "No filter named '\(name)'.", line: pos.line, column: pos.column)
            }
        case .test(let input, let name, let a, _, let pos):
            try expr(input, soft: soft)
            try args(a)
            if !soft && !implementedTests.contains(name) {
                throw TemplateError(kind: .assertion, message: "No test named '\(name)'.", line: pos.line, column: pos.column)
            }
        case .not(let x), .negate(let x, _), .plus(let x, _): try expr(x, soft: soft)
        case .binary(_, let l, let r, _): try expr(l, soft: soft); try expr(r, soft: soft)
        case .compare(let l, let ops, _):
            try expr(l, soft: soft)
            for (_, r) in ops { try expr(r, soft: soft) }
        case .conditional(let t, let a, let b):
            try expr(t, soft: true)
            try expr(a, soft: true)
            if let b { try expr(b, soft: true) }
        }
    }
}
