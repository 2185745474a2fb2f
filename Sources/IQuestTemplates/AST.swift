/// Syntax tree of a parsed template.

struct Args {
    var positional: [Expr] = []
    var keyword: [(String, Expr)] = []
    var star: Expr?
    var doubleStar: Expr?
}

enum BinaryOp: String {
    case add = "+", sub = "-", mul = "*", div = "/", floordiv = "//", mod = "%", pow = "**", concat = "~"
    case and, or
}

enum CompareOp: String {
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=", isIn = "in", notIn = "not in"
}

indirect enum Expr {
    case literal(Value)
    case name(String, Pos)
    case list([Expr])
    case tuple([Expr])
    case dict([(Expr, Expr)])
    case attribute(Expr, String, Pos)
    case item(Expr, Expr, Pos)
    case slice(Expr, Expr?, Expr?, Expr?, Pos)
    case call(Expr, Args, Pos)
    /// `value | name(args)`; value is nil inside `{% filter %}` blocks, where the body is piped in.
    case filter(Expr?, String, Args, Pos)
    case test(Expr, String, Args, negated: Bool, Pos)
    case not(Expr)
    case negate(Expr, Pos)
    case plus(Expr, Pos)
    case binary(BinaryOp, Expr, Expr, Pos)
    case compare(Expr, [(CompareOp, Expr)], Pos)
    case conditional(test: Expr, then: Expr, otherwise: Expr?)
}

indirect enum Target {
    case name(String)
    case tuple([Target])
    /// `ns.attr` in `{% set ns.attr = ... %}`.
    case attribute(String, String, Pos)
}

struct MacroDef {
    var name: String
    var params: [(String, Expr?)]
    var body: [Node]
}

indirect enum Node {
    case text(String)
    case output(Expr, Pos)
    case ifChain([(Expr, [Node])], otherwise: [Node])
    case forLoop(target: Target, iter: Expr, filter: Expr?, body: [Node], otherwise: [Node], pos: Pos)
    case set(Target, Expr, Pos)
    case setBlock(Target, filters: [Expr], body: [Node], Pos)
    case macro(MacroDef)
    case callBlock(call: Expr, params: [(String, Expr?)], body: [Node], Pos)
    case filterBlock(filters: [Expr], body: [Node], Pos)
    case loopBreak(Pos)
    case loopContinue(Pos)
}
