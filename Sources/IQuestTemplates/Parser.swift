/// Statement parser: turns lexer pieces into a node tree, following jinja2's grammar.
struct Parser {
    private let pieces: [Piece]
    private var index = 0
    private let endOfSource: Pos

    init(pieces: [Piece], endOfSource: Pos) {
        self.pieces = pieces
        self.endOfSource = endOfSource
    }

    mutating func parseTemplate() throws -> [Node] {
        let (nodes, end) = try parseBody(until: [], opener: nil)
        if let end { throw syntax("Encountered unknown tag '\(end.name)'.", end.pos) }
        return nodes
    }

    private struct EndTag {
        var name: String
        var stream: TokenStream
        var pos: Pos
    }

    /// Parses nodes until one of `until` tags; returns that tag (with the rest of its tokens) or nil at the end.
    private mutating func parseBody(until: [String], opener: (String, Pos)?) throws -> ([Node], EndTag?) {
        var nodes: [Node] = []
        while index < pieces.count {
            let piece = pieces[index]
            index += 1
            switch piece {
            case .text(let s):
                nodes.append(.text(s))
            case .output(let tokens, let pos):
                var ts = TokenStream(tokens, end: "end of print statement", pos: pos)
                let e = try ts.parseTuple()
                try ts.expectEnd()
                nodes.append(.output(e, pos))
            case .block(let tokens, let pos):
                var ts = TokenStream(tokens, end: "end of statement block", pos: pos)
                guard let first = ts.current, first.kind == .name else {
                    throw syntax("tag name expected", pos)
                }
                if until.contains(first.text) {
                    ts.advance()
                    return (nodes, EndTag(name: first.text, stream: ts, pos: pos))
                }
                if first.text.hasPrefix("end") || ["elif", "else"].contains(first.text), opener != nil || !until.isEmpty {
                    throw syntax(unknownTagMessage(first.text, until: until, opener: opener), first.pos)
                }
                ts.advance()
                nodes.append(contentsOf: try parseStatement(first.text, &ts, pos))
            }
        }
        if let opener {
            throw syntax("Unexpected end of template. Jinja was looking for the following tags: \(quoteTags(until)). The innermost block that needs to be closed is '\(opener.0)' (opened at line \(opener.1.line)).", endOfSource)
        }
        return (nodes, nil)
    }

    private func quoteTags(_ tags: [String]) -> String {
        tags.map { "'\($0)'" }.joined(separator: " or ")
    }

    private func unknownTagMessage(_ name: String, until: [String], opener: (String, Pos)?) -> String {
        var m = "Encountered unknown tag '\(name)'."
        if let opener {
            m += " Jinja was looking for the following tags: \(quoteTags(until)). The innermost block that needs to be closed is '\(opener.0)'."
        }
        return m
    }

    private func syntax(_ message: String, _ pos: Pos) -> TemplateError {
        TemplateError(kind: .syntax, message: message, line: pos.line, column: pos.column)
    }

    private mutating func parseStatement(_ tag: String, _ ts: inout TokenStream, _ pos: Pos) throws -> [Node] {
        switch tag {
        case "if":
            var branches: [(Expr, [Node])] = []
            var cond = try ts.parseTuple(withCondexpr: false)
            try ts.expectEnd()
            while true {
                let (body, end) = try parseBody(until: ["elif", "else", "endif"], opener: ("if", pos))
                guard var end else { throw syntax("unclosed if", pos) }
                branches.append((cond, body))
                switch end.name {
                case "elif":
                    cond = try end.stream.parseTuple(withCondexpr: false)
                    try end.stream.expectEnd()
                case "else":
                    try end.stream.expectEnd()
                    let (otherwise, end2) = try parseBody(until: ["endif"], opener: ("if", pos))
                    guard let end2 else { throw syntax("unclosed if", pos) }
                    try end2.stream.expectEnd()
                    return [.ifChain(branches, otherwise: otherwise)]
                default:
                    try end.stream.expectEnd()
                    return [.ifChain(branches, otherwise: [])]
                }
            }
        case "for":
            let target = try ts.parseAssignTarget(allowNamespace: false)
            try ts.expectName("in")
            let iter = try ts.parseTuple(withCondexpr: false, extraEnd: ["recursive"])
            var filter: Expr?
            if ts.skipName("if") { filter = try ts.parseExpression() }
            if ts.isName("recursive") { throw TemplateError(kind: .unsupported, message: "recursive for loops are not supported", line: pos.line, column: pos.column) }
            try ts.expectEnd()
            let (body, end) = try parseBody(until: ["endfor", "else"], opener: ("for", pos))
            guard let end else { throw syntax("unclosed for", pos) }
            try end.stream.expectEnd()
            var otherwise: [Node] = []
            if end.name == "else" {
                let (e, end2) = try parseBody(until: ["endfor"], opener: ("for", pos))
                guard let end2 else { throw syntax("unclosed for", pos) }
                try end2.stream.expectEnd()
                otherwise = e
            }
            return [.forLoop(target: target, iter: iter, filter: filter, body: body, otherwise: otherwise, pos: pos)]
        case "set":
            let target = try ts.parseAssignTarget(allowNamespace: true)
            if ts.skipOp("=") {
                let e = try ts.parseTuple()
                try ts.expectEnd()
                return [.set(target, e, pos)]
            }
            let filters = try ts.parseFilterChain()
            try ts.expectEnd()
            let (body, end) = try parseBody(until: ["endset"], opener: ("set", pos))
            guard let end else { throw syntax("unclosed set", pos) }
            try end.stream.expectEnd()
            return [.setBlock(target, filters: filters, body: body, pos)]
        case "macro":
            let name = try ts.expectIdentifier()
            let params = try ts.parseSignature()
            try ts.expectEnd()
            let (body, end) = try parseBody(until: ["endmacro"], opener: ("macro", pos))
            guard let end else { throw syntax("unclosed macro", pos) }
            try end.stream.expectEnd()
            return [.macro(MacroDef(name: name, params: params, body: body))]
        case "call":
            var params: [(String, Expr?)] = []
            if ts.isOp("(") { params = try ts.parseSignature() }
            let call = try ts.parseExpression()
            guard case .call = call else { throw syntax("expected call", pos) }
            try ts.expectEnd()
            let (body, end) = try parseBody(until: ["endcall"], opener: ("call", pos))
            guard let end else { throw syntax("unclosed call", pos) }
            try end.stream.expectEnd()
            return [.callBlock(call: call, params: params, body: body, pos)]
        case "filter":
            let filters = try ts.parseFilterChain(requireFirstBar: false)
            try ts.expectEnd()
            let (body, end) = try parseBody(until: ["endfilter"], opener: ("filter", pos))
            guard let end else { throw syntax("unclosed filter", pos) }
            try end.stream.expectEnd()
            return [.filterBlock(filters: filters, body: body, pos)]
        case "generation":
            // transformers' AssistantTracker: renders its body unchanged (it only records offsets).
            try ts.expectEnd()
            let (body, end) = try parseBody(until: ["endgeneration"], opener: ("generation", pos))
            guard let end else { throw syntax("unclosed generation", pos) }
            try end.stream.expectEnd()
            return body
        case "break":
            try ts.expectEnd()
            return [.loopBreak(pos)]
        case "continue":
            try ts.expectEnd()
            return [.loopContinue(pos)]
        case "include", "import", "from", "extends", "block", "with", "autoescape", "trans":
            throw TemplateError(kind: .unsupported, message: "the '\(tag)' tag is not supported", line: pos.line, column: pos.column)
        default:
            throw syntax("Encountered unknown tag '\(tag)'.", pos)
        }
    }
}
