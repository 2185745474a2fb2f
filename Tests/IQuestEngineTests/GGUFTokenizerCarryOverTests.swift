import Foundation
import IQuestEngine
import IQuestFormats
import IQuestTokenizer
import Testing

/// `iquest quantize` on HF directories with a SentencePiece tokenizer (tiny-iquest/dense and
/// tiny-loop/hf share the tiny IQuest tokenizer): the GGUF's tokenizer encodes and decodes every
/// sentencepiece reference case, and its chat template and stop ids are the directory's.
@Suite struct GGUFTokenizerCarryOverTests {
    static let checkpoints = ["tiny-iquest/dense", "tiny-loop/hf"]

    /// The checkpoint converted to an f32 GGUF in a scratch directory (kept alive by the caller).
    static func converted(_ checkpoint: String, _ scratch: EngineTempDirectory) throws -> String {
        let output = scratch.path("model.gguf")
        _ = try GGUFExporter.convert(ConversionRequest(input: EngineFixtures.path(checkpoint), output: output, type: .f32))
        return output
    }

    @Test(arguments: checkpoints)
    func tokenizerMatchesSentencepieceOnEveryCase(checkpoint: String) throws {
        let scratch = try EngineTempDirectory()
        let loaded = try LoadedModel.load(path: Self.converted(checkpoint, scratch), threads: 1)
        let expected = try HFDirectoryTests.decode(HFDirectoryTests.TokenizerExpected.self, "tokenizer-expected.json")
        #expect(expected.cases.count >= 30)
        #expect(loaded.tokenizer.vocabularySize == 1000)
        #expect(!loaded.tokenizer.addBOS)
        var failures: [String] = []
        for c in expected.cases {
            let ids = loaded.tokenizer.encode(c.text, addSpecialTokens: false, parseSpecial: true)
            if ids != c.ids { failures.append("encode \(c.text.debugDescription): \(ids) != \(c.ids)") }
            let decoded = loaded.tokenizer.decode(c.ids, skipSpecialTokens: false)
            if decoded != c.decoded { failures.append("decode \(c.ids): \(decoded.debugDescription)") }
            let skipped = loaded.tokenizer.decode(c.ids, skipSpecialTokens: true)
            if skipped != c.decoded_skip_special_tokens { failures.append("decode (skip) \(c.ids): \(skipped.debugDescription)") }
        }
        #expect(failures.isEmpty, "\(checkpoint) via GGUF: \(failures.count) mismatches:\n\(failures.joined(separator: "\n"))")
    }

    @Test(arguments: checkpoints)
    func templateAndStopIdsMatchTheDirectory(checkpoint: String) throws {
        let scratch = try EngineTempDirectory()
        let gguf = try LoadedModel.load(path: Self.converted(checkpoint, scratch), threads: 1)
        let directory = try LoadedModel.load(path: EngineFixtures.path(checkpoint), threads: 1)
        #expect(gguf.chatFormat.template == directory.chatFormat.template)
        #expect(gguf.chatFormat.endOfTurnTokenId == 979)
        #expect(gguf.stopTokenIds == directory.stopTokenIds)
        #expect(gguf.stopTokenIds == [2, 979, 984])
        #expect(gguf.tokenizer.bosTokenId == directory.tokenizer.bosTokenId)
        #expect(gguf.tokenizer.eosTokenIds == directory.tokenizer.eosTokenIds)
        try HFDirectoryTests.checkTemplateCases(gguf, label: "\(checkpoint) via GGUF")
    }

    /// The keys llama.cpp reads, with the values tokenizer.model / tokenizer_config.json give.
    @Test func metadataFollowsLlamaCppSentencePieceConvention() throws {
        let scratch = try EngineTempDirectory()
        let file = try GGUFFile(path: Self.converted("tiny-iquest/dense", scratch))
        typealias Key = GGUFTokenizerKey
        #expect(try file.string(Key.model) == "llama")
        let tokens = try #require(try file.stringArray(Key.tokens))
        let types = try #require(try file.intArray(Key.tokenType))
        let scores = try #require(try file.floatArray(Key.scores))
        #expect(tokens.count == 1000 && types.count == 1000 && scores.count == 1000)
        #expect(file.metadata[Key.tokenType]?.typeDescription == "array of int32")
        #expect(tokens[0] == "<unk>" && tokens[979] == "<|im_end|>" && tokens[987] == "<think>")
        #expect(types[0] == 2 && types[1] == 3 && types[2] == 3, "SentencePiece's unknown and control pieces")
        #expect(types[979] == 3 && types[984] == 3, "special added tokens are control")
        #expect((987...994).allSatisfy { types[$0] == 4 }, "<think> ... </tool_response> are user-defined")
        #expect(types[3..<259].allSatisfy { $0 == 6 }, "byte-fallback pieces")
        #expect(try file.int(Key.bosTokenId) == 1)
        #expect(try file.int(Key.eosTokenId) == 979)
        #expect(try file.int(Key.unknownTokenId) == 0)
        #expect(try file.int(Key.paddingTokenId) == 977)
        #expect(try file.int(Key.eotTokenId) == 979)
        #expect(try file.bool(Key.addBOS) == false)
        #expect(try file.bool(Key.addEOS) == false)
        #expect(try file.bool(Key.addSpacePrefix) == true)
        #expect(try file.intArray(Key.stopTokenIds) == [2, 979, 984])
        #expect(try file.intArray(Key.addedTokenIds) == [0, 1, 2] + Array(973..<1000))
        let template = try LoadedModel.load(path: HFDirectoryTests.dense(), threads: 1).chatFormat.template
        #expect(try file.string(Key.chatTemplate) == template)
    }

    /// GGUF input: the tokenizer metadata is copied as it is.
    @Test func requantizingAGGUFKeepsTheTokenizer() throws {
        let scratch = try EngineTempDirectory()
        let f32 = try Self.converted("tiny-loop/hf", scratch)
        let q8 = scratch.path("q8.gguf")
        _ = try GGUFExporter.convert(ConversionRequest(input: f32, output: q8, type: .q8_0))
        let a = try GGUFFile(path: f32), b = try GGUFFile(path: q8)
        let keys = a.metadataKeys.filter { $0.hasPrefix("tokenizer.") }
        #expect(keys.count >= 15)
        for key in keys { #expect(b.metadata[key] == a.metadata[key], "\(key)") }
    }

    /// A tokenizer model this engine does not implement stops the load with one sentence naming it.
    @Test func unsupportedTokenizerModelIsRefusedByName() throws {
        let scratch = try EngineTempDirectory()
        let path = scratch.path("t5.gguf")
        try copyGGUF(from: Self.converted("tiny-loop/hf", scratch), to: path,
                     replacing: [GGUFTokenizerKey.model: .string("t5")])
        #expect {
            try LoadedModel.load(path: path, threads: 1)
        } throws: { error in
            (error as? LoadError)?.message == "\(path): cannot build the tokenizer: tokenizer.ggml.model is 't5'; "
                + "supported: 'gpt2' (byte-level BPE), 'llama' (SentencePiece)."
        }
    }

    /// What the llama convention cannot carry is left out with a note; the weights still convert.
    @Test func checkpointsWithoutASentencePieceModelGetANote() throws {
        let scratch = try EngineTempDirectory()
        let source = try EngineFixtures.path("tiny-loop/hf")
        let dir = scratch.path("hf")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source)
        where !["tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"].contains(name) {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: dir + "/" + name)
        }
        let bare = try GGUFExporter.convert(ConversionRequest(input: dir, output: scratch.path("a.gguf"), type: .f32))
        #expect(bare.notes.count == 1 && bare.notes.first?.contains("no tokenizer files") == true, "\(bare.notes)")
        #expect(try GGUFFile(path: scratch.path("a.gguf")).metadata[GGUFTokenizerKey.model] == nil)

        try FileManager.default.copyItem(atPath: EngineFixtures.path("tokenizer/hf-json/bytelevel-gpt2/tokenizer.json"), toPath: dir + "/tokenizer.json")
        let json = try GGUFExporter.convert(ConversionRequest(input: dir, output: scratch.path("b.gguf"), type: .f32))
        #expect(json.notes.first?.contains("tokenizer.json") == true, "\(json.notes)")
        #expect(try GGUFFile(path: scratch.path("b.gguf")).metadata[GGUFTokenizerKey.model] == nil)
    }
}
