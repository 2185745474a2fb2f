/// Turns a stream of generated token ids into text, one request at a time.
///
/// A token may end in the middle of a UTF-8 character (byte-level BPE splits emoji and CJK across
/// tokens), so each call returns only complete characters and holds back a trailing sequence that
/// could still be completed. Bytes that can never form a character are emitted as U+FFFD at once.
public struct StreamingDetokenizer: Sendable {
    private let tokenizer: any Tokenizer
    private let skipSpecialTokens: Bool
    private var pending: [UInt8] = []
    private var previous: Int?

    /// `previousToken`: the last token before the stream (e.g. the prompt's), which decides whether
    /// the first token's text depends on what precedes it (`Tokenizer.streamBytes`).
    public init(tokenizer: any Tokenizer, skipSpecialTokens: Bool = false, previousToken: Int? = nil) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
        self.previous = previousToken
    }

    /// The text that became complete with `id` (often empty or a whole word).
    public mutating func append(_ id: Int) -> String {
        defer { previous = id }
        if skipSpecialTokens && tokenizer.isSpecial(id) { return "" }
        return append(bytes: tokenizer.streamBytes(id, after: previous))
    }

    /// Same as `append(_:)` for raw bytes.
    public mutating func append(bytes: [UInt8]) -> String {
        pending.append(contentsOf: bytes)
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Everything still held back; an unfinished character becomes U+FFFD.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside a character that could still be
    /// completed by more bytes.
    static func completePrefixLength(_ b: [UInt8]) -> Int {
        // A character is at most 4 bytes, so only a lead byte among the last 3 can be unfinished.
        var lead = b.count - 1
        while lead >= 0, lead >= b.count - 3, b[lead] & 0xC0 == 0x80 { lead -= 1 }
        guard lead >= 0, lead >= b.count - 3 else { return b.count }
        let first = b[lead]
        let need: Int
        switch first {
        case 0xC2...0xDF: need = 2
        case 0xE0...0xEF: need = 3
        case 0xF0...0xF4: need = 4
        default: return b.count
        }
        let have = b.count - lead
        guard have < need else { return b.count }
        // The second byte's allowed range depends on the lead (no overlongs, surrogates or
        // values past U+10FFFF); a sequence already invalid is not worth waiting for.
        if have >= 2 {
            let second = b[lead + 1]
            let ok: Bool
            switch first {
            case 0xE0: ok = (0xA0...0xBF).contains(second)
            case 0xED: ok = (0x80...0x9F).contains(second)
            case 0xF0: ok = (0x90...0xBF).contains(second)
            case 0xF4: ok = (0x80...0x8F).contains(second)
            default: ok = true
            }
            if !ok { return b.count }
        }
        return lead
    }
}
