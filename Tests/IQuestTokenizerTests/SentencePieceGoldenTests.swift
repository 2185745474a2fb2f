import Foundation
import IQuestFormats
import IQuestTokenizer
import Testing

/// SentencePiece `tokenizer.model` encoding against sentencepiece's own output.
@Suite struct SentencePieceGoldenTests {
    /// Rebuilds a SentencePiece ModelProto from one of llama.cpp's SPM vocab GGUFs (BPE, byte
    /// fallback, identity normalizer, dummy prefix, no whitespace cleanup; pieces, scores and types
    /// copied — GGUF token types are SentencePiece's enum). Entries after the last NORMAL piece are HF
    /// added tokens (phi-3's `<|endoftext|>`, `<|user|>`, ...), kept as added tokens.
    static func rebuilt(_ name: String) throws -> (proto: Data, added: [AddedToken]) {
        let gguf = try GGUFFile(path: TestAssets.cached("llama-vocab/ggml-vocab-\(name).gguf").path)
        let tokens = try gguf.requireStringArray("tokenizer.ggml.tokens")
        guard let scores = try gguf.floatArray("tokenizer.ggml.scores"),
              let types = try gguf.intArray("tokenizer.ggml.token_type"),
              scores.count == tokens.count, types.count == tokens.count,
              let lastNormal = types.lastIndex(of: 1) else {
            throw AssetError(description: "\(name): scores/token types missing or inconsistent")
        }
        var proto = Sentencepiece_ModelProto()
        proto.trainerSpec.modelType = .bpe
        proto.trainerSpec.byteFallback = true
        proto.normalizerSpec.name = "identity"
        proto.normalizerSpec.addDummyPrefix = true
        proto.normalizerSpec.removeExtraWhitespaces = false
        for i in 0...lastNormal {
            var piece = Sentencepiece_ModelProto.SentencePiece()
            piece.piece = tokens[i]
            piece.score = scores[i]
            guard let type = Sentencepiece_ModelProto.SentencePiece.TypeEnum(rawValue: types[i]) else {
                throw AssetError(description: "\(name): token \(i) has type \(types[i])")
            }
            piece.type = type
            proto.pieces.append(piece)
        }
        let added = (lastNormal + 1..<tokens.count).map { AddedToken(id: $0, content: tokens[$0], special: types[$0] != 4) }
        return (try proto.serializedData(), added)
    }

    @Test(arguments: ["llama-spm", "phi-3"])
    func llamaCppVectors(vocab: String) throws {
        let (data, added) = try Self.rebuilt(vocab)
        let spm = try SentencePieceTokenizer(data: data)
        #expect(spm.vocabularySize == 32000)
        let tokenizer = try AddedTokensTokenizer(base: spm, addedTokens: added, bosTokenId: spm.bosTokenId,
                                                 eosTokenIds: spm.eosTokenIds, addBOS: false, addEOS: false)
        let failures = try TestAssets.vectorFailures(tokenizer, vocab: vocab)
        #expect(failures.isEmpty, "\(vocab): \(failures.count) differ:\n\(failures.joined(separator: "\n"))")
    }

    @Test func llamaSpmSpecialIdsAndDecode() throws {
        let spm = try SentencePieceTokenizer(data: Self.rebuilt("llama-spm").proto, addBOS: true)
        #expect(spm.bosTokenId == 1)
        #expect(spm.eosTokenIds == [2])
        #expect(spm.unknownTokenId == 0)
        // "Hello world" is [15043, 3186] in the Llama 2 vocabulary (llama.cpp's vectors).
        #expect(spm.encode("Hello world", addSpecialTokens: true) == [1, 15043, 3186])
        #expect(spm.decode([1, 15043, 3186], skipSpecialTokens: true) == "Hello world")
        #expect(spm.decode([1, 15043, 3186], skipSpecialTokens: false) == "<s> Hello world")
        #expect(spm.encode("<s>", addSpecialTokens: false, parseSpecial: true) == [1])
        #expect(spm.encode("<s>", addSpecialTokens: false, parseSpecial: false) != [1])
    }

    struct Expected: Decodable {
        struct Model: Decodable {
            let vocab_size: Int
            let ids: [[Int]]
            let pieces: [[String]]
            let decoded: [String]
        }
        let strings: [String]
        let models: [String: Model]
    }

    static func trained(_ name: String) throws -> (SentencePieceTokenizer, Expected) {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: TestAssets.fixture("spm/expected.json")))
        return (try SentencePieceTokenizer(path: TestAssets.fixture("spm/\(name).model").path), expected)
    }

    @Test(arguments: ["bpe", "unigram"])
    func trainedModel(name: String) throws {
        let (t, expected) = try Self.trained(name)
        let model = try #require(expected.models[name])
        #expect(t.vocabularySize == model.vocab_size)
        #expect(expected.strings.count >= 40)
        var failures: [String] = []
        for (i, s) in expected.strings.enumerated() {
            let ids = t.encode(s, addSpecialTokens: false)
            if ids != model.ids[i] { failures.append("\(s.debugDescription): ids \(ids) != \(model.ids[i])") }
            // sentencepiece spells a run of unknown characters by its text; `pieces` gives "<unk>".
            if !ids.contains(where: { $0 == t.unknownTokenId }), t.pieces(s) != model.pieces[i] { failures.append("\(s.debugDescription): pieces \(t.pieces(s)) != \(model.pieces[i])") }
            // sentencepiece renders <unk> as " ⁇ " and drops control pieces; compare where neither occurs.
            if !model.ids[i].contains(where: { t.isSpecial($0) }) {
                let d = t.decode(model.ids[i], skipSpecialTokens: true)
                if d != model.decoded[i] { failures.append("\(s.debugDescription): decoded \(d.debugDescription) != \(model.decoded[i].debugDescription)") }
            }
        }
        #expect(failures.isEmpty, "\(name): \(failures.count) mismatches:\n\(failures.joined(separator: "\n"))")
    }

    @Test func unknownRunsAndByteFallback() throws {
        let (unigram, _) = try Self.trained("unigram")
        let unk = try #require(unigram.unknownTokenId)
        // Consecutive unknown characters collapse into one <unk> (no byte fallback in this model).
        #expect(unigram.encode("🙂🙂", addSpecialTokens: false).filter { $0 == unk }.count == 1)
        let (bpe, _) = try Self.trained("bpe")
        // "🙂" is F0 9F 99 82: four byte pieces after the dummy prefix.
        let ids = bpe.encode("🙂", addSpecialTokens: false)
        #expect(ids.suffix(4).map { bpe.piece(for: $0) } == ["<0xF0>", "<0x9F>", "<0x99>", "<0x82>"])
        #expect(bpe.decode(ids, skipSpecialTokens: false) == "🙂")
    }

    @Test func errors() throws {
        #expect(throws: TokenizerLoadError.self) { try SentencePieceTokenizer(data: Data([0xFF, 0xFF, 0xFF])) }
        var proto = Sentencepiece_ModelProto()
        #expect(throws: TokenizerLoadError(file: "tokenizer.model", "the model has no pieces.")) {
            try SentencePieceTokenizer(proto: proto)
        }
        var unk = Sentencepiece_ModelProto.SentencePiece()
        unk.piece = "<unk>"
        unk.type = .unknown
        var a = Sentencepiece_ModelProto.SentencePiece()
        a.piece = "a"
        proto.pieces = [unk, a]
        proto.normalizerSpec.name = "nmt_nfkc"
        proto.normalizerSpec.precompiledCharsmap = Data([1, 2, 3, 4])
        let error = #expect(throws: TokenizerLoadError.self) { try SentencePieceTokenizer(proto: proto) }
        #expect(error?.message.contains("'nmt_nfkc'") == true)
        proto.normalizerSpec.precompiledCharsmap = Data()
        proto.pieces.append(a)
        #expect(throws: TokenizerLoadError(file: "tokenizer.model", "piece 'a' is defined twice (ids 1 and 2).")) {
            try SentencePieceTokenizer(proto: proto)
        }
        proto.pieces.removeLast()
        proto.trainerSpec.byteFallback = true
        let missing = #expect(throws: TokenizerLoadError.self) { try SentencePieceTokenizer(proto: proto) }
        #expect(missing?.message.contains("no piece for byte 0x0") == true)
        proto.trainerSpec.byteFallback = false
        proto.trainerSpec.modelType = .word
        #expect(throws: TokenizerLoadError.self) { try SentencePieceTokenizer(proto: proto) }
        proto.trainerSpec.modelType = .bpe
        #expect(try SentencePieceTokenizer(proto: proto).encode("aa", addSpecialTokens: false) == [0, 1, 1])
    }
}
