import Foundation

/// The tokenizer.json normalizers supported on SentencePiece-style (Metaspace) BPE models.
enum HFNormalizer: Sendable {
    case prepend(String)
    case replace(pattern: String, content: String)

    static func parse(_ value: Any?, file: JSONFile) throws(TokenizerLoadError) -> [HFNormalizer] {
        if JSONFile.isNull(value) { return [] }
        guard let o = value as? [String: Any], let type = o["type"] as? String else {
            throw file.fail("'normalizer' is not an object with a 'type'.")
        }
        switch type {
        case "Sequence":
            guard let list = o["normalizers"] as? [Any] else { throw file.fail("Sequence normalizer has no 'normalizers' list.") }
            var out: [HFNormalizer] = []
            for item in list { out += try parse(item, file: file) }
            return out
        case "Prepend":
            guard let s = o["prepend"] as? String else { throw file.fail("Prepend normalizer has no 'prepend' string.") }
            return [.prepend(s)]
        case "Replace":
            guard let pattern = (o["pattern"] as? [String: Any])?["String"] as? String, let content = o["content"] as? String else {
                throw file.fail("Replace normalizer: only a literal {\"String\": ...} pattern with a 'content' string is supported.")
            }
            return [.replace(pattern: pattern, content: content)]
        default:
            throw file.fail("normalizer '\(type)' is not supported (supported: Sequence, Prepend, Replace).")
        }
    }

    func apply(_ s: String) -> String {
        switch self {
        case .prepend(let p): return s.isEmpty ? s : p + s
        case .replace(let pattern, let content): return s.replacingOccurrences(of: pattern, with: content)
        }
    }
}

/// tokenizers' `Metaspace` pre-tokenizer: spaces become the replacement character, which is
/// prepended to the first piece of the input (`first`) or to every piece (`always`) unless already
/// there; with `split`, the text is cut before every replacement character.
struct HFMetaspace: Sendable {
    enum Prepend: String, Sendable { case always, first, never }
    let replacement: Character
    let prepend: Prepend
    let split: Bool

    func words(_ text: String, atStartOfInput: Bool) -> [String] {
        var s = text.replacingOccurrences(of: " ", with: String(replacement))
        if prepend == .always || (prepend == .first && atStartOfInput), !s.hasPrefix(String(replacement)) {
            s = String(replacement) + s
        }
        guard split else { return [s] }
        var words: [String] = []
        var current = ""
        for c in s.unicodeScalars {
            if Character(c) == replacement && !current.isEmpty {
                words.append(current)
                current = ""
            }
            current.unicodeScalars.append(c)
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}

/// tokenizers decoders: each turns the list of token strings into another list; the results are
/// joined at the end.
enum HFDecoder: Sendable {
    case byteLevel
    case metaspace(replacement: Character, prependScheme: HFMetaspace.Prepend)
    case replace(pattern: String, content: String)
    case byteFallback
    case fuse
    case strip(content: Character, start: Int, stop: Int)

    static func parse(_ value: Any?, file: JSONFile) throws(TokenizerLoadError) -> [HFDecoder]? {
        if JSONFile.isNull(value) { return nil }
        guard let o = value as? [String: Any], let type = o["type"] as? String else {
            throw file.fail("'decoder' is not an object with a 'type'.")
        }
        switch type {
        case "Sequence":
            guard let list = o["decoders"] as? [Any] else { throw file.fail("Sequence decoder has no 'decoders' list.") }
            var out: [HFDecoder] = []
            for item in list { out += try parse(item, file: file) ?? [] }
            return out
        case "ByteLevel": return [.byteLevel]
        case "Metaspace":
            let (replacement, scheme) = try metaspaceOptions(o, file: file, what: "Metaspace decoder")
            return [.metaspace(replacement: replacement, prependScheme: scheme)]
        case "Replace":
            guard let pattern = (o["pattern"] as? [String: Any])?["String"] as? String, let content = o["content"] as? String else {
                throw file.fail("Replace decoder: only a literal {\"String\": ...} pattern with a 'content' string is supported.")
            }
            return [.replace(pattern: pattern, content: content)]
        case "ByteFallback": return [.byteFallback]
        case "Fuse": return [.fuse]
        case "Strip":
            guard let content = o["content"] as? String, content.count == 1, let c = content.first else {
                throw file.fail("Strip decoder: 'content' must be one character.")
            }
            return [.strip(content: c, start: try file.int(o["start"], "Strip decoder 'start'"),
                           stop: try file.int(o["stop"], "Strip decoder 'stop'"))]
        default:
            throw file.fail("decoder '\(type)' is not supported (supported: Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip).")
        }
    }

    static func metaspaceOptions(_ o: [String: Any], file: JSONFile, what: String) throws(TokenizerLoadError) -> (Character, HFMetaspace.Prepend) {
        guard let r = o["replacement"] as? String, r.count == 1, let replacement = r.first else {
            throw file.fail("\(what): 'replacement' must be one character.")
        }
        var scheme = HFMetaspace.Prepend.always
        if let s = o["prepend_scheme"] as? String {
            guard let p = HFMetaspace.Prepend(rawValue: s) else { throw file.fail("\(what): unknown prepend_scheme '\(s)'.") }
            scheme = p
        } else if let add = o["add_prefix_space"] as? Bool {
            scheme = add ? .always : .never
        }
        return (replacement, scheme)
    }

    func apply(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens {
                var mapped: [UInt8] = []
                var ok = true
                for s in t.unicodeScalars {
                    guard let b = ByteLevelAlphabet.byteForScalar[s.value] else { ok = false; break }
                    mapped.append(b)
                }
                bytes += ok ? mapped : Array(t.utf8)
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { i, t in
                var s = ""
                for c in t {
                    if c == replacement {
                        if !(i == 0 && scheme != .never) { s.append(" ") }
                    } else {
                        s.append(c)
                    }
                }
                return s
            }
        case .replace(let pattern, let content):
            return tokens.map { $0.replacingOccurrences(of: pattern, with: content) }
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(validating: pending, as: UTF8.self) {
                    out.append(s)
                } else {
                    out += Array(repeating: "\u{FFFD}", count: pending.count)
                }
                pending.removeAll()
            }
            for t in tokens {
                if let b = SentencePieceModel.byteValue(Array(t.utf8)) {
                    pending.append(b)
                } else {
                    flush()
                    out.append(t)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { t in
                var chars = Array(t)
                var a = 0
                while a < start, a < chars.count, chars[a] == content { a += 1 }
                chars.removeFirst(a)
                var b = 0
                while b < stop, b < chars.count, chars[chars.count - 1 - b] == content { b += 1 }
                chars.removeLast(b)
                return String(chars)
            }
        }
    }
}
