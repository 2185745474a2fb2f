import Foundation
import SwiftProtobuf

/// A SentencePiece `tokenizer.model` (BPE or Unigram, identity normalization), encoding exactly as
/// the `sentencepiece` library's `SentencePieceProcessor.encode`: normalize (dummy prefix, `▁` for
/// spaces, optional whitespace cleanup), segment, then unknown pieces become their UTF-8 bytes'
/// `<0xNN>` pieces with byte fallback, or one unknown id per run of unknown pieces without.
///
/// User-defined pieces are matched whole inside the text. Control pieces (`<s>`, `</s>`, ...) in the
/// text are ordinary characters unless `parseSpecial`, which splits them out first and encodes each
/// stretch between them separately.
public struct SentencePieceTokenizer: Tokenizer {
    public let vocabularySize: Int
    public let bosTokenId: Int?
    public let eosTokenIds: [Int]
    public let unknownTokenId: Int?
    public let addBOS: Bool
    public let addEOS: Bool

    let model: SentencePieceModel
    private let unigram: SentencePieceUnigram?
    private let specials: SpecialTokenMatcher
    private let storage: [UInt8]
    private let starts: [Int]

    /// Reads `tokenizer.model` at `path`.
    public init(path: String, addBOS: Bool = false, addEOS: Bool = false) throws(TokenizerLoadError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerLoadError(file: path, "cannot read the file: \(error.localizedDescription)")
        }
        try self.init(data: data, file: path, addBOS: addBOS, addEOS: addEOS)
    }

    /// A serialized `ModelProto`; `file` names it in errors.
    public init(data: Data, file: String = "tokenizer.model", addBOS: Bool = false, addEOS: Bool = false) throws(TokenizerLoadError) {
        let proto: Sentencepiece_ModelProto
        do {
            proto = try Sentencepiece_ModelProto(serializedBytes: data)
        } catch {
            throw TokenizerLoadError(file: file, "not a SentencePiece ModelProto (protobuf decoding failed: \(error)).")
        }
        try self.init(proto: proto, file: file, addBOS: addBOS, addEOS: addEOS)
    }

    public init(proto: Sentencepiece_ModelProto, file: String = "tokenizer.model", addBOS: Bool = false,
                addEOS: Bool = false) throws(TokenizerLoadError) {
        let model = try SentencePieceModel(proto: proto, file: file)
        if addBOS && model.bosId == nil {
            throw TokenizerLoadError(file: file, "BOS is to be added but the model has no control piece '\(proto.trainerSpec.bosPiece)'.")
        }
        if addEOS && model.eosId == nil {
            throw TokenizerLoadError(file: file, "EOS is to be added but the model has no control piece '\(proto.trainerSpec.eosPiece)'.")
        }
        self.model = model
        self.unigram = model.algorithm == .unigram ? SentencePieceUnigram(model: model) : nil
        self.vocabularySize = model.pieces.count
        self.bosTokenId = model.bosId
        self.eosTokenIds = model.eosId.map { [$0] } ?? []
        self.unknownTokenId = model.unkId
        self.addBOS = addBOS
        self.addEOS = addEOS
        // Only control and unknown pieces are split out beforehand (when parsing specials);
        // user-defined ones are handled inside the normalized text, as sentencepiece does.
        self.specials = SpecialTokenMatcher(texts: model.pieces,
                                            types: model.types.map { $0 == .userDefined ? .normal : $0 })
        var storage: [UInt8] = []
        var starts = [0]
        for id in 0..<model.pieces.count {
            storage += Self.surface(model: model, id: id)
            starts.append(storage.count)
        }
        self.storage = storage
        self.starts = starts
    }

    /// What token `id` stands for in text: `▁` → space for ordinary pieces, the byte of a byte piece,
    /// the literal text of control and unknown pieces.
    private static func surface(model: SentencePieceModel, id: Int) -> [UInt8] {
        let bytes = model.pieceBytes[id]
        switch model.types[id] {
        case .byte:
            return SentencePieceModel.byteValue(bytes).map { [$0] } ?? bytes
        case .control, .unknown:
            return bytes
        default:
            return Self.unescape(bytes)
        }
    }

    private static func unescape(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if i + 2 < bytes.count, bytes[i] == 0xE2, bytes[i + 1] == 0x96, bytes[i + 2] == 0x81 {
                out.append(0x20)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int] {
        var out: [Int] = []
        if addSpecialTokens, addBOS, let bos = bosTokenId { out.append(bos) }
        let bytes = Array(text.utf8)
        if parseSpecial && !specials.isEmpty {
            for fragment in specials.partition(bytes, parseSpecial: true) {
                switch fragment {
                case .token(let id): out.append(id)
                case .text(let range): encodePlain(Array(bytes[range]), into: &out)
                }
            }
        } else {
            encodePlain(bytes, into: &out)
        }
        if addSpecialTokens, addEOS, let eos = eosTokenIds.first { out.append(eos) }
        return out
    }

    /// The pieces `encode` gives for `text` (no special tokens), as stored in the model.
    public func pieces(_ text: String) -> [String] {
        encode(text, addSpecialTokens: false, parseSpecial: false).map { model.pieces[$0] }
    }

    private func encodePlain(_ bytes: [UInt8], into out: inout [Int]) {
        let normalized = model.normalizer.normalize(bytes)
        let segments = unigram?.encode(normalized, model: model) ?? SentencePieceBPE.encode(normalized, model: model)
        var previousUnknown = false
        for segment in segments {
            if let id = segment.id, model.types[id] == .control {
                out.append(id)
                previousUnknown = false
                continue
            }
            let unknown = segment.id == nil || model.types[segment.id!] == .unknown
            if unknown && model.byteFallback {
                for b in normalized[segment.range] { out.append(model.byteIds[Int(b)]) }
            } else if !(unknown && previousUnknown) {
                if let id = segment.id ?? model.unkId { out.append(id) }
            }
            previousUnknown = unknown
        }
    }

    /// sentencepiece's `DecodeIds`, except that control and unknown tokens give their literal text
    /// unless `skipSpecialTokens`: byte pieces are joined into UTF-8 (invalid bytes become U+FFFD),
    /// `▁` becomes a space, and the dummy-prefix space of the first piece is dropped.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var out: [UInt8] = []
        var atStart = true
        let stripsLeadingSpace = model.normalizer.addDummyPrefix || model.normalizer.removeExtraWhitespaces
        for id in ids where (0..<vocabularySize).contains(id) {
            let type = model.types[id]
            if skipSpecialTokens && (type == .control || type == .unknown) { continue }
            var bytes = storage[starts[id]..<starts[id + 1]]
            if type != .byte && !out.isEmpty { atStart = false }
            if atStart && type != .byte {
                var hadDummySpace = false
                if stripsLeadingSpace && type != .control && type != .unknown
                    && model.pieceBytes[id].starts(with: SentencePieceNormalizer.spaceSymbol) {
                    bytes = bytes.dropFirst()
                    // With whitespace cleanup the reference keeps dropping a leading `▁` until text appears.
                    hadDummySpace = !model.normalizer.removeExtraWhitespaces
                }
                if hadDummySpace || !bytes.isEmpty { atStart = false }
            }
            out += bytes
        }
        return String(decoding: out, as: UTF8.self)
    }

    public func tokenBytes(_ id: Int) -> [UInt8] {
        guard (0..<vocabularySize).contains(id) else { return [] }
        return Array(storage[starts[id]..<starts[id + 1]])
    }

    public func isSpecial(_ id: Int) -> Bool {
        guard let type = tokenType(id) else { return false }
        return type == .control || type == .unknown
    }

    public func tokenType(_ id: Int) -> TokenType? {
        (0..<vocabularySize).contains(id) ? model.types[id] : nil
    }

    public func score(_ id: Int) -> Float? {
        (0..<vocabularySize).contains(id) ? model.scores[id] : nil
    }

    public func tokenId(for piece: String) -> Int? { model.idsByText[piece] }

    public func piece(for id: Int) -> String? {
        (0..<vocabularySize).contains(id) ? model.pieces[id] : nil
    }
}
