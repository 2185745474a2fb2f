import Foundation

/// A validated SentencePiece `ModelProto`: the vocabulary and the options encoding needs.
/// Validation follows sentencepiece's `ModelInterface::InitializePieces` and `Normalizer` setup.
struct SentencePieceModel: Sendable {
    enum Algorithm: Sendable { case bpe, unigram }

    let algorithm: Algorithm
    let pieces: [String]
    let pieceBytes: [[UInt8]]
    let scores: [Float]
    let types: [TokenType]
    /// Every piece by its bytes (sentencepiece's `pieces_`), for BPE merges and unigram matching.
    let idsByBytes: [[UInt8]: Int]
    let idsByText: [String: Int]
    let unkId: Int?
    let bosId: Int?
    let eosId: Int?
    let byteFallback: Bool
    /// `<0xNN>` piece id of every byte (when byteFallback).
    let byteIds: [Int]
    let userDefined: BytePrefixMatcher
    let normalizer: SentencePieceNormalizer

    init(proto: Sentencepiece_ModelProto, file: String) throws(TokenizerLoadError) {
        func fail(_ message: String) -> TokenizerLoadError { TokenizerLoadError(file: file, message) }
        let trainer = proto.trainerSpec
        switch trainer.modelType {
        case .bpe: algorithm = .bpe
        case .unigram: algorithm = .unigram
        case .word, .char:
            throw fail("model type \(trainer.modelType) is not supported; only BPE and UNIGRAM are.")
        }
        guard !proto.pieces.isEmpty else { throw fail("the model has no pieces.") }
        let spec = proto.normalizerSpec
        if !spec.precompiledCharsmap.isEmpty {
            let name = spec.hasName ? spec.name : "(unnamed)"
            throw fail("normalization rule '\(name)' (a precompiled character map) is not supported; only 'identity' is.")
        }
        if proto.hasDenormalizerSpec, !proto.denormalizerSpec.precompiledCharsmap.isEmpty {
            throw fail("a denormalizer (precompiled character map) is not supported.")
        }
        let n = proto.pieces.count
        var pieces: [String] = []
        var pieceBytes: [[UInt8]] = []
        var scores: [Float] = []
        var types: [TokenType] = []
        var idsByBytes: [[UInt8]: Int] = [:]
        var idsByText: [String: Int] = [:]
        var unkId: Int?
        var byteIds = [Int](repeating: -1, count: 256)
        var userDefined: [([UInt8], Int)] = []
        pieces.reserveCapacity(n)
        for (id, sp) in proto.pieces.enumerated() {
            let text = sp.piece
            let bytes = Array(text.utf8)
            guard !bytes.isEmpty else { throw fail("piece \(id) is empty.") }
            let type: TokenType
            switch sp.type {
            case .normal: type = .normal
            case .unknown: type = .unknown
            case .control: type = .control
            case .userDefined: type = .userDefined
            case .byte: type = .byte
            case .unused: type = .unused
            }
            if algorithm == .unigram, sp.score.isNaN || sp.score.isInfinite {
                throw fail("piece \(id) ('\(text)') has score \(sp.score); scores must be finite.")
            }
            if bytes.contains(0), !(bytes == [0] && type == .unused) {
                throw fail("piece \(id) contains a NUL character.")
            }
            if let first = idsByBytes[bytes] {
                throw fail("piece '\(text)' is defined twice (ids \(first) and \(id)).")
            }
            idsByBytes[bytes] = id
            idsByText[text] = id
            switch type {
            case .unknown:
                if let first = unkId { throw fail("two unknown pieces (ids \(first) and \(id)).") }
                unkId = id
            case .byte:
                guard trainer.byteFallback else {
                    throw fail("byte piece \(text) (id \(id)) is present although byte_fallback is false.")
                }
                guard let b = Self.byteValue(bytes) else { throw fail("byte piece \(id) '\(text)' is not <0xNN>.") }
                byteIds[Int(b)] = id
            case .userDefined:
                userDefined.append((bytes, id))
            default:
                break
            }
            pieces.append(text)
            pieceBytes.append(bytes)
            scores.append(sp.score)
            types.append(type)
        }
        if unkId == nil, !trainer.byteFallback { throw fail("no unknown piece is defined (and byte_fallback is off).") }
        if trainer.byteFallback, let missing = byteIds.firstIndex(of: -1) {
            throw fail("byte_fallback is true but there is no piece for byte 0x\(String(missing, radix: 16, uppercase: true)).")
        }
        func controlId(_ piece: String) -> Int? {
            guard let id = idsByText[piece], types[id] == .control else { return nil }
            return id
        }
        self.pieces = pieces
        self.pieceBytes = pieceBytes
        self.scores = scores
        self.types = types
        self.idsByBytes = idsByBytes
        self.idsByText = idsByText
        self.unkId = unkId
        self.bosId = controlId(trainer.bosPiece)
        self.eosId = controlId(trainer.eosPiece)
        self.byteFallback = trainer.byteFallback
        self.byteIds = byteIds
        let matcher = BytePrefixMatcher(userDefined)
        self.userDefined = matcher
        self.normalizer = SentencePieceNormalizer(
            addDummyPrefix: spec.addDummyPrefix, removeExtraWhitespaces: spec.removeExtraWhitespaces,
            escapeWhitespaces: spec.escapeWhitespaces, treatWhitespaceAsSuffix: trainer.treatWhitespaceAsSuffix,
            userDefined: matcher)
    }

    /// `<0xNN>` → NN.
    static func byteValue(_ u: [UInt8]) -> UInt8? {
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }

    /// sentencepiece's `OneCharLen`: the UTF-8 length announced by a lead byte.
    @inline(__always)
    static func charLength(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }
}

/// Longest match among a fixed set of byte strings at a position (sentencepiece's `PrefixMatcher`).
struct BytePrefixMatcher: Sendable {
    /// Per first byte: (bytes, id), longest first.
    private let byFirstByte: [[([UInt8], Int)]]
    let isEmpty: Bool

    init(_ entries: [([UInt8], Int)]) {
        var table = [[([UInt8], Int)]](repeating: [], count: 256)
        for e in entries where !e.0.isEmpty { table[Int(e.0[0])].append(e) }
        for i in 0..<256 { table[i].sort { $0.0.count > $1.0.count } }
        byFirstByte = table
        isEmpty = entries.isEmpty
    }

    /// (length, id) of the longest entry that `text[i...]` starts with.
    func match(_ text: [UInt8], at i: Int) -> (length: Int, id: Int)? {
        guard !isEmpty, i < text.count else { return nil }
        outer: for (bytes, id) in byFirstByte[Int(text[i])] where i + bytes.count <= text.count {
            for j in 1..<bytes.count where text[i + j] != bytes[j] { continue outer }
            return (bytes.count, id)
        }
        return nil
    }
}
