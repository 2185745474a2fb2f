/// Splits template source into text, `{{ }}` and `{% %}` pieces the way jinja2's lexer does under
/// transformers' settings: trim_blocks, lstrip_blocks, keep_trailing_newline=False, `-`/`+` controls.

enum TokKind: Equatable {
    case name, string, int, float, op
}

struct Token {
    var kind: TokKind
    var text: String      // names, operators, decoded string contents
    var intValue = 0
    var floatValue = 0.0
    var pos: Pos
}

enum Piece {
    case text(String)
    case output([Token], Pos)
    case block([Token], Pos)
}

struct Lexer {
    private let src: [Unicode.Scalar]
    private var lineStarts: [Int] = [0]

    init(_ source: String) {
        // jinja2 turns \r\n and \r into \n and drops one trailing newline before lexing.
        var s: [Unicode.Scalar] = []
        s.reserveCapacity(source.unicodeScalars.count)
        var it = source.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = it.next()
        while let c = pending {
            pending = it.next()
            if c == "\r" {
                if pending == "\n" { pending = it.next() }
                s.append("\n")
            } else {
                s.append(c)
            }
        }
        if s.last == "\n" { s.removeLast() }
        src = s
        for (i, c) in src.enumerated() where c == "\n" { lineStarts.append(i + 1) }
    }

    var endPosition: Pos { pos(src.count) }

    func pos(_ i: Int) -> Pos {
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= i { lo = mid } else { hi = mid - 1 }
        }
        return Pos(line: lo + 1, column: i - lineStarts[lo] + 1)
    }

    private func at(_ i: Int, _ s: String) -> Bool {
        var j = i
        for c in s.unicodeScalars {
            guard j < src.count, src[j] == c else { return false }
            j += 1
        }
        return true
    }

    private func string(_ a: Int, _ b: Int) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: src[a..<b])
        return String(s)
    }

    private func skipSpace(_ i: Int) -> Int {
        var j = i
        while j < src.count, isSpace(src[j]) { j += 1 }
        return j
    }

    /// Matches `{%[-+]? raw %}` (or endraw) at i; returns (sign, index after the tag name).
    private func rawTag(_ i: Int, _ word: String) -> (Character?, Int)? {
        guard at(i, "{%") else { return nil }
        var j = i + 2
        var sign: Character?
        if j < src.count, src[j] == "-" || src[j] == "+" { sign = Character(src[j]); j += 1 }
        j = skipSpace(j)
        guard at(j, word) else { return nil }
        j += word.unicodeScalars.count
        let k = skipSpace(j)
        guard at(k, "%}") || at(k, "-%}") || at(k, "+%}") else { return nil }
        return (sign, k)
    }

    func tokenize() throws -> [Piece] {
        var pieces: [Piece] = []
        var i = 0
        var lineStarting = true
        while i < src.count {
            // Find the next tag opener.
            var open = i
            while open < src.count {
                if src[open] == "{", open + 1 < src.count, src[open + 1] == "{" || src[open + 1] == "%" || src[open + 1] == "#" { break }
                open += 1
            }
            var textEnd = open
            if open >= src.count {
                pieces.append(.text(string(i, src.count)))
                break
            }
            let kind = src[open + 1]
            var sign: Unicode.Scalar?
            if open + 2 < src.count, src[open + 2] == "-" || src[open + 2] == "+" { sign = src[open + 2] }
            if sign == "-" {
                while textEnd > i, isSpace(src[textEnd - 1]) { textEnd -= 1 }
            } else if sign != "+", kind != "{" {
                // lstrip_blocks: drop spaces between the line start and a block/comment tag.
                var l = textEnd
                while l > i, src[l - 1] != "\n" { l -= 1 }
                if l > i || lineStarting, l < textEnd, src[l..<textEnd].allSatisfy({ isSpace($0) }) { textEnd = l }
            }
            if textEnd > i { pieces.append(.text(string(i, textEnd))) }
            let tagPos = pos(open)

            if kind == "#" {
                var j = open + 2
                while j < src.count, !at(j, "#}") { j += 1 }
                guard j < src.count else { throw TemplateError(kind: .syntax, message: "Missing end of comment tag", line: tagPos.line, column: tagPos.column) }
                (i, lineStarting) = afterClose(closeAt: j, closerLength: 2, signBefore: j > open + 2 ? src[j - 1] : nil)
                continue
            }
            if kind == "%", let (_, k) = rawTag(open, "raw") {
                // Raw begin: `-%}` strips following whitespace; no trim_blocks newline removal here.
                var j = k
                if at(j, "-%}") { j = skipSpace(j + 3) } else if at(j, "+%}") { j += 3 } else { j += 2 }
                var e = j
                while e < src.count, rawTag(e, "endraw") == nil { e += 1 }
                guard e < src.count, let (endSign, ek) = rawTag(e, "endraw") else {
                    throw TemplateError(kind: .syntax, message: "Missing end of raw directive", line: tagPos.line, column: tagPos.column)
                }
                var bodyEnd = e
                if endSign == "-" {
                    while bodyEnd > j, isSpace(src[bodyEnd - 1]) { bodyEnd -= 1 }
                } else if endSign != "+" {
                    var l = bodyEnd
                    while l > j, src[l - 1] != "\n" { l -= 1 }
                    if l > j, l < bodyEnd, src[l..<bodyEnd].allSatisfy({ isSpace($0) }) { bodyEnd = l }
                }
                if bodyEnd > j { pieces.append(.text(string(j, bodyEnd))) }
                let closeSign: Unicode.Scalar? = at(ek, "-%}") ? "-" : at(ek, "+%}") ? "+" : nil
                (i, lineStarting) = afterClose(closeAt: closeSign == nil ? ek : ek + 1, closerLength: 2, signBefore: closeSign)
                continue
            }
            // Expression tokens up to the closer; braces must balance before a closer counts.
            var j = open + 2 + (sign == nil ? 0 : 1)
            var tokens: [Token] = []
            var depth: [Unicode.Scalar] = []
            let closer: String = kind == "{" ? "}}" : "%}"
            var closed = false
            while j < src.count {
                let c = src[j]
                if isSpace(c) { j += 1; continue }
                if depth.isEmpty {
                    if at(j, "-" + closer) {
                        (i, lineStarting) = afterClose(closeAt: j + 1, closerLength: 2, signBefore: "-")
                        closed = true
                        break
                    }
                    if kind == "%", at(j, "+%}") {
                        (i, lineStarting) = afterClose(closeAt: j + 1, closerLength: 2, signBefore: "+")
                        closed = true
                        break
                    }
                    if at(j, closer) {
                        (i, lineStarting) = afterClose(closeAt: j, closerLength: 2, signBefore: kind == "{" ? "+" : nil)
                        closed = true
                        break
                    }
                }
                let p = pos(j)
                if isIdentStart(c) {
                    var e = j + 1
                    while e < src.count, isIdentContinue(src[e]) { e += 1 }
                    tokens.append(Token(kind: .name, text: string(j, e), pos: p))
                    j = e
                } else if c == "'" || c == "\"" {
                    let (s, e) = try lexString(j, p)
                    tokens.append(Token(kind: .string, text: s, pos: p))
                    j = e
                } else if c.properties.numericType != nil, c.isASCII {
                    j = try lexNumber(j, p, &tokens)
                } else {
                    let ops = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")",
                               "{", "}", "<", ">", "=", ".", ":", "|", ",", ";"]
                    guard let op = ops.first(where: { at(j, $0) }) else {
                        throw TemplateError(kind: .syntax, message: "unexpected char \(pythonStringRepr(String(c))) at \(j)", line: p.line, column: p.column)
                    }
                    switch op {
                    case "(": depth.append(")")
                    case "[": depth.append("]")
                    case "{": depth.append("}")
                    case ")", "]", "}":
                        guard let expected = depth.popLast() else {
                            throw TemplateError(kind: .syntax, message: "unexpected '\(op)'", line: p.line, column: p.column)
                        }
                        if String(expected) != op {
                            throw TemplateError(kind: .syntax, message: "unexpected '\(op)', expected '\(expected)'", line: p.line, column: p.column)
                        }
                    default: break
                    }
                    tokens.append(Token(kind: .op, text: op, pos: p))
                    j += op.unicodeScalars.count
                }
            }
            if !closed {
                let what = kind == "{" ? "end of print statement" : "end of statement block"
                let p = pos(src.count)
                throw TemplateError(kind: .syntax, message: "unexpected end of template, expected '\(what)'", line: p.line, column: p.column)
            }
            pieces.append(kind == "{" ? .output(tokens, tagPos) : .block(tokens, tagPos))
        }
        return pieces
    }

    /// Position after a closer: `-` eats all following whitespace, a plain block/comment closer eats
    /// one newline (trim_blocks), `+` and variable closers eat nothing. Also reports whether the
    /// consumed text ended with a newline (jinja2's `line_starting` for lstrip_blocks).
    private func afterClose(closeAt: Int, closerLength: Int, signBefore: Unicode.Scalar?) -> (Int, Bool) {
        var j = closeAt + closerLength
        if signBefore == "-" {
            j = skipSpace(j)
        } else if signBefore != "+", j < src.count, src[j] == "\n" {
            j += 1
        }
        return (j, j > 0 && src[j - 1] == "\n")
    }

    private func lexString(_ start: Int, _ p: Pos) throws -> (String, Int) {
        let q = src[start]
        var j = start + 1
        var out = String.UnicodeScalarView()
        while j < src.count, src[j] != q {
            if src[j] == "\\", j + 1 < src.count {
                j += 1
                let c = src[j]
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "\\": out.append("\\")
                case "'": out.append("'")
                case "\"": out.append("\"")
                case "a": out.append("\u{07}")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "v": out.append("\u{0B}")
                case "0"..."7":
                    var v: UInt32 = 0
                    var n = 0
                    while n < 3, j < src.count, ("0"..."7").contains(src[j]) {
                        v = v * 8 + (src[j].value - 48)
                        j += 1
                        n += 1
                    }
                    j -= 1
                    guard let u = Unicode.Scalar(v) else { throw TemplateError(kind: .syntax, message: "bad octal escape", line: p.line, column: p.column) }
                    out.append(u)
                case "x", "u", "U":
                    let width = c == "x" ? 2 : c == "u" ? 4 : 8
                    guard j + width < src.count else { throw TemplateError(kind: .syntax, message: "truncated \\\(c) escape in string", line: p.line, column: p.column) }
                    let h = string(j + 1, j + 1 + width)
                    guard let v = UInt32(h, radix: 16), let u = Unicode.Scalar(v) else {
                        throw TemplateError(kind: .syntax, message: "bad \\\(c) escape in string", line: p.line, column: p.column)
                    }
                    out.append(u)
                    j += width
                case "\n": break  // backslash-newline continues the line, as in Python
                case "N": throw TemplateError(kind: .unsupported, message: "\\N{...} escapes are not supported", line: p.line, column: p.column)
                default:
                    // Python keeps unknown escapes verbatim.
                    out.append("\\")
                    out.append(c)
                }
                j += 1
            } else {
                out.append(src[j])
                j += 1
            }
        }
        guard j < src.count else { throw TemplateError(kind: .syntax, message: "unterminated string", line: p.line, column: p.column) }
        return (String(out), j + 1)
    }

    private func lexNumber(_ start: Int, _ p: Pos, _ tokens: inout [Token]) throws -> Int {
        var j = start
        func digits() { while j < src.count, src[j].isASCII, src[j].properties.numericType != nil || src[j] == "_" { j += 1 } }
        digits()
        var isFloat = false
        if j + 1 < src.count, src[j] == ".", src[j + 1].isASCII, src[j + 1].properties.numericType != nil {
            isFloat = true
            j += 1
            digits()
        }
        if j < src.count, src[j] == "e" || src[j] == "E" {
            var k = j + 1
            if k < src.count, src[k] == "+" || src[k] == "-" { k += 1 }
            if k < src.count, src[k].isASCII, src[k].properties.numericType != nil {
                isFloat = true
                j = k
                digits()
            }
        }
        let text = string(start, j).replacingOccurrences(of: "_", with: "")
        if isFloat {
            guard let d = Double(text) else { throw TemplateError(kind: .syntax, message: "bad number \(text)", line: p.line, column: p.column) }
            tokens.append(Token(kind: .float, text: text, floatValue: d, pos: p))
        } else {
            guard let v = Int(text) else { throw TemplateError(kind: .unsupported, message: "integer \(text) out of range", line: p.line, column: p.column) }
            tokens.append(Token(kind: .int, text: text, intValue: v, pos: p))
        }
        return j
    }
}

/// Python's `str.isspace` subset that matters for templates (`\s` in jinja2's regexes).
func isSpace(_ c: Unicode.Scalar) -> Bool {
    switch c {
    case " ", "\t", "\n", "\r", "\u{0B}", "\u{0C}", "\u{1C}", "\u{1D}", "\u{1E}", "\u{1F}", "\u{85}": return true
    default: return c.value > 0x7F && c.properties.isWhitespace
    }
}

func isIdentStart(_ c: Unicode.Scalar) -> Bool {
    c == "_" || (c.isASCII ? c.properties.isAlphabetic : c.properties.isXIDStart)
}

func isIdentContinue(_ c: Unicode.Scalar) -> Bool {
    c == "_" || (c.isASCII ? (c.properties.isAlphabetic || c.properties.numericType != nil) : c.properties.isXIDContinue)
}
