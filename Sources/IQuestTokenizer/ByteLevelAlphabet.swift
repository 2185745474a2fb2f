/// GPT-2's reversible mapping between bytes and printable Unicode scalars.
///
/// Byte-level BPE vocabularies store every token as text in this alphabet so that no token
/// contains whitespace or control characters: printable Latin-1 bytes (`!`..`~`, `¡`..`¬`,
/// `®`..`ÿ`) stand for themselves, and the remaining 68 bytes map, in increasing order, to
/// U+0100, U+0101, ...
enum ByteLevelAlphabet {
    /// The scalar that stands for each byte.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if isPrintable(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// The byte each alphabet scalar stands for; scalars outside the alphabet are absent.
    static let byteForScalar: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for b in 0..<256 { map[scalarForByte[b]] = UInt8(b) }
        return map
    }()

    private static func isPrintable(_ b: Int) -> Bool {
        (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
    }

    /// Token text in the alphabet → the raw bytes it stands for. Scalars outside the alphabet
    /// (possible in hand-edited vocabularies) are kept as their own UTF-8 so no text is lost.
    static func decode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if let b = byteForScalar[scalar.value] {
                out.append(b)
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        return out
    }

    /// Raw bytes → token text in the alphabet.
    static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes {
            if let scalar = Unicode.Scalar(scalarForByte[Int(b)]) { s.append(scalar) }
        }
        return String(s)
    }
}
