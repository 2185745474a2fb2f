/// Character classes used by the pre-tokenizer regexes, as bit flags per Unicode scalar.
///
/// The regexes of HF tokenizers (Oniguruma) and llama.cpp use `\p{L}`, `\p{N}`, `\p{P}` and `\s`;
/// these map to general categories L*, N*, P* and the White_Space property.
struct ScalarClass: OptionSet, Sendable {
    let rawValue: UInt8

    static let letter = ScalarClass(rawValue: 1 << 0)
    static let number = ScalarClass(rawValue: 1 << 1)
    static let whitespace = ScalarClass(rawValue: 1 << 2)
    static let punctuation = ScalarClass(rawValue: 1 << 3)
    /// `\r` or `\n`: several regexes treat them apart from other whitespace.
    static let newline = ScalarClass(rawValue: 1 << 4)

    static func of(_ value: UInt32) -> ScalarClass {
        if value < 0x10000 { return ScalarClass(rawValue: basicPlaneTable[Int(value)]) }
        return compute(value)
    }

    static func compute(_ value: UInt32) -> ScalarClass {
        guard let scalar = Unicode.Scalar(value) else { return [] }
        var result: ScalarClass = []
        let props = scalar.properties
        switch props.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            result.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            result.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            result.insert(.punctuation)
        default:
            break
        }
        if props.isWhitespace { result.insert(.whitespace) }
        if value == 0x0A || value == 0x0D { result.insert(.newline) }
        return result
    }
}

/// Classes of the Basic Multilingual Plane, computed once: property lookups through the standard
/// library are too slow to repeat for every character of every prompt.
private let basicPlaneTable: [UInt8] = {
    var table = [UInt8](repeating: 0, count: 0x10000)
    for v in 0..<UInt32(0x10000) {
        table[Int(v)] = ScalarClass.compute(v).rawValue
    }
    return table
}()

/// A run of text prepared for the scanners: its scalars, their classes, and where each scalar
/// starts in the UTF-8 bytes (one extra entry at the end holds the total byte count).
struct ScalarText {
    let scalars: [UInt32]
    let classes: [ScalarClass]
    let byteOffsets: [Int]

    init(utf8 bytes: ArraySlice<UInt8>) {
        var scalars: [UInt32] = []
        var offsets: [Int] = []
        scalars.reserveCapacity(bytes.count)
        offsets.reserveCapacity(bytes.count + 1)
        var i = bytes.startIndex
        let base = bytes.startIndex
        // The bytes come from a Swift String, so they are well-formed UTF-8.
        while i < bytes.endIndex {
            let b0 = UInt32(bytes[i])
            offsets.append(i - base)
            var len = 1
            var v = b0
            if b0 >= 0xF0 {
                len = 4
                v = b0 & 0x07
            } else if b0 >= 0xE0 {
                len = 3
                v = b0 & 0x0F
            } else if b0 >= 0xC0 {
                len = 2
                v = b0 & 0x1F
            }
            if len > 1 {
                for k in 1..<len where i + k < bytes.endIndex {
                    v = (v << 6) | (UInt32(bytes[i + k]) & 0x3F)
                }
            }
            scalars.append(v)
            i += len
        }
        offsets.append(bytes.count)
        self.scalars = scalars
        self.byteOffsets = offsets
        self.classes = scalars.map { ScalarClass.of($0) }
    }

    var count: Int { scalars.count }
}
