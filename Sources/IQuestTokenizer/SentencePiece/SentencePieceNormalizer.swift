/// sentencepiece's `Normalizer::Normalize` for the identity rule (no character map): optional removal
/// of leading, trailing and repeated spaces, the dummy-prefix space, and spaces escaped as `▁`.
/// User-defined pieces are copied as units (their spaces are still escaped).
struct SentencePieceNormalizer: Sendable {
    let addDummyPrefix: Bool
    let removeExtraWhitespaces: Bool
    let escapeWhitespaces: Bool
    let treatWhitespaceAsSuffix: Bool
    let userDefined: BytePrefixMatcher

    static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]

    func normalize(_ input: [UInt8]) -> [UInt8] {
        var start = 0
        if removeExtraWhitespaces {
            while start < input.count, prefixLength(input, at: start) == 1, input[start] == 0x20 { start += 1 }
        }
        guard start < input.count else { return [] }
        let space: [UInt8] = escapeWhitespaces ? Self.spaceSymbol : [0x20]
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3 / 2 + 3)
        if !treatWhitespaceAsSuffix && addDummyPrefix { out += space }
        var isPrevSpace = removeExtraWhitespaces
        var i = start
        while i < input.count {
            let length = prefixLength(input, at: i)
            var s = i
            let e = i + length
            while isPrevSpace && s < e && input[s] == 0x20 { s += 1 }
            if s < e {
                for k in s..<e {
                    if input[k] == 0x20 { out += space } else { out.append(input[k]) }
                }
                isPrevSpace = input[e - 1] == 0x20
            }
            i = e
            if !removeExtraWhitespaces { isPrevSpace = false }
        }
        if removeExtraWhitespaces {
            while out.count >= space.count, out[(out.count - space.count)...].elementsEqual(space) {
                out.removeLast(space.count)
            }
        }
        if treatWhitespaceAsSuffix && addDummyPrefix { out += space }
        return out
    }

    /// Bytes `NormalizePrefix` consumes at `i`: a whole user-defined piece, else one character.
    private func prefixLength(_ input: [UInt8], at i: Int) -> Int {
        if let m = userDefined.match(input, at: i) { return m.length }
        return min(SentencePieceModel.charLength(input[i]), input.count - i)
    }
}
