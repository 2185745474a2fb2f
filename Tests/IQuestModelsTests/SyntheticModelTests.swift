import Foundation
import IQuestFormats
import IQuestKernels
import IQuestModels
import XCTest

/// `SyntheticShape` / `SyntheticWeights`: the presets match the spec's shapes and counts, the
/// in-memory weights make the same model as the same bytes written to a GGUF, the values are what
/// they claim, and the memory check refuses what cannot fit.
final class SyntheticModelTests: XCTestCase {
    // Spec §1 and §4: 487,598,080 parameters per layer (of which 10,240 in the two norms),
    // 393,216,000 each in the embedding and lm_head, 5,120 in the final norm; Loop adds a
    // [40, 128] gate and a [40] bias per layer.
    static let layerParameters = 487_598_080
    static let layerNormParameters = 2 * 5120
    static let embeddingParameters = 393_216_000
    static let gateParameters = 40 * 128 + 40

    func testPresetsHaveTheSpecShapesAndCounts() throws {
        let expected: [(name: String, layers: Int, loop: Bool, billions: Double)] = [
            ("iquest-7b", 14, false, 7.61), ("iquest-14b", 28, false, 14.44),
            ("iquest-40b", 80, false, 39.79), ("iquest-40b-loop", 80, true, 39.79),
        ]
        XCTAssertEqual(SyntheticShape.presets.map(\.name), expected.map(\.name))
        for e in expected {
            let shape = try XCTUnwrap(SyntheticShape.preset(named: e.name))
            XCTAssertEqual(shape.layers, e.layers, e.name)
            XCTAssertEqual(shape.isLoop, e.loop, e.name)
            XCTAssertEqual([shape.hiddenSize, shape.intermediateSize, shape.heads, shape.kvHeads, shape.headDim, shape.vocabularySize],
                           [5120, 27_648, 40, 8, 128, 76_800], e.name)
            XCTAssertEqual(shape.ropeTheta, 500_000)
            XCTAssertEqual(shape.rmsNormEps, 1e-5)

            let tensors = Dictionary(uniqueKeysWithValues: shape.tensorList.map { ($0.name, $0) })
            // 9 tensors per layer (+2 Loop gates), embedding, final norm, output: 883 for the Loop 40B (spec §4).
            XCTAssertEqual(tensors.count, e.layers * (e.loop ? 11 : 9) + 3, e.name)
            if e.loop { XCTAssertEqual(tensors.count, 883) }
            XCTAssertEqual(tensors["token_embd.weight"]?.shape, [76_800, 5120])
            XCTAssertEqual(tensors["output.weight"]?.shape, [76_800, 5120])
            XCTAssertEqual(tensors["output_norm.weight"]?.shape, [5120])
            let last = "blk.\(e.layers - 1)."
            XCTAssertEqual(tensors[last + "attn_q.weight"]?.shape, [5120, 5120])
            XCTAssertEqual(tensors[last + "attn_k.weight"]?.shape, [1024, 5120])
            XCTAssertEqual(tensors[last + "attn_v.weight"]?.shape, [1024, 5120])
            XCTAssertEqual(tensors[last + "attn_output.weight"]?.shape, [5120, 5120])
            XCTAssertEqual(tensors[last + "ffn_gate.weight"]?.shape, [27_648, 5120])
            XCTAssertEqual(tensors[last + "ffn_up.weight"]?.shape, [27_648, 5120])
            XCTAssertEqual(tensors[last + "ffn_down.weight"]?.shape, [5120, 27_648])
            XCTAssertEqual(tensors[last + "attn_norm.weight"]?.shape, [5120])
            XCTAssertEqual(tensors[last + "ffn_norm.weight"]?.shape, [5120])
            XCTAssertEqual(tensors[last + "loop_gate.weight"]?.shape, e.loop ? [40, 128] : nil)
            XCTAssertEqual(tensors[last + "loop_gate.bias"]?.shape, e.loop ? [40] : nil)
            XCTAssertNil(tensors["blk.\(e.layers).attn_q.weight"])

            let gates = e.loop ? e.layers * Self.gateParameters : 0
            let parameters = e.layers * Self.layerParameters + 2 * Self.embeddingParameters + 5120 + gates
            XCTAssertEqual(shape.parameterCount, parameters, e.name)
            XCTAssertEqual(Double(shape.parameterCount) / 1e9, e.billions, accuracy: 0.005, e.name)

            // Matrices in the requested type (bytes per element = block bytes / block size), the
            // norms and gates f32.
            let matrixParameters = e.layers * (Self.layerParameters - Self.layerNormParameters) + 2 * Self.embeddingParameters
            let f32Parameters = parameters - matrixParameters
            for kind in WeightKind.allCases {
                XCTAssertEqual(shape.weightBytes(kind), matrixParameters / kind.blockSize * kind.bytesPerBlock + 4 * f32Parameters,
                               "\(e.name) \(kind)")
            }
        }
        // The anchors' 7B Q8_0 file is 8.09 GB; ours stores lm_head in Q8_0 too, so the sizes agree.
        XCTAssertEqual(Double(SyntheticShape.preset(named: "iquest-7b")!.weightBytes(.q8_0)) / 1e9, 8.09, accuracy: 0.01)
        XCTAssertEqual(Double(SyntheticShape.preset(named: "iquest-7b")!.weightBytes(.f16)) / 1e9, 15.2, accuracy: 0.05)
    }

    func testWeightsOccupyTheFormulaBytesAndHaveTheStatedDistribution() throws {
        for kind in WeightKind.allCases {
            let shape = tinyShape(loop: true, kind: kind)
            let weights = try SyntheticWeights(shape: shape, kind: kind, pool: ComputePool(threads: 2))
            XCTAssertEqual(weights.byteCount, shape.weightBytes(kind), "\(kind)")
            XCTAssertEqual(weights.tensors.map(\.name), shape.tensorList.map(\.name))
            // Tensors do not overlap.
            for (a, b) in zip(weights.tensors, weights.tensors.dropFirst()) {
                XCTAssertLessThanOrEqual(a.offset + a.byteCount, b.offset, "\(a.name) overlaps \(b.name)")
            }
            func values(_ name: String) throws -> [Float] {
                let t = try XCTUnwrap(weights.tensors.first { $0.name == name })
                let data = weights.data(t)
                var out = [Float](repeating: 0, count: t.elementCount)
                out.withUnsafeMutableBufferPointer { buffer in
                    for r in 0..<t.rows {
                        dequantizeRow(t.kind, data.baseAddress! + r * t.kind.rowBytes(columns: t.columns),
                                      into: buffer.baseAddress! + r * t.columns, count: t.columns)
                    }
                }
                return out
            }
            let (mean, std) = moments(try values("ffn_gate.weight".layer(0)))
            XCTAssertEqual(mean, 0, accuracy: 0.002, "\(kind)")
            XCTAssertEqual(std, 0.02, accuracy: 0.003, "\(kind)")
            let (normMean, normStd) = moments(try values("attn_norm.weight".layer(1)))
            XCTAssertEqual(normMean, 1, accuracy: 0.01)
            XCTAssertEqual(normStd, 0.02, accuracy: 0.006)
            XCTAssertEqual(try values("loop_gate.bias".layer(0)), [Float](repeating: 2, count: shape.heads))
        }
    }

    func testRowsDependOnTheSeedNotOnTheThreadCount() throws {
        let shape = tinyShape(loop: false)
        let one = try SyntheticWeights(shape: shape, kind: .q4_0, pool: ComputePool(threads: 1))
        let two = try SyntheticWeights(shape: shape, kind: .q4_0, pool: ComputePool(threads: 2))
        let other = try SyntheticWeights(shape: shape, kind: .q4_0, seed: 2, pool: ComputePool(threads: 2))
        for (a, b) in zip(one.tensors, two.tensors) { XCTAssertEqual(Array(one.data(a)), Array(two.data(b)), a.name) }
        let q = one.tensors.first { $0.name == "blk.0.attn_q.weight" }!
        XCTAssertNotEqual(Array(one.data(q)), Array(other.data(q)))
        // Rows differ from each other (each row has its own stream).
        let bytes = Array(one.data(q)), rowBytes = WeightKind.q4_0.rowBytes(columns: q.columns)
        XCTAssertNotEqual(bytes[0..<rowBytes], bytes[rowBytes..<(2 * rowBytes)])
    }

    /// The in-memory source and a GGUF holding the same bytes give bit-identical logits through
    /// prefill and decode, dense and Loop, for every type.
    func testInMemoryModelEqualsTheSameWeightsWrittenToAGGUF() throws {
        let dir = try TempDirectory()
        let ids = [3, 17, 42, 5, 88, 61, 9, 30, 2, 71]
        for loop in [false, true] {
            for kind in WeightKind.allCases {
                let shape = tinyShape(loop: loop, kind: kind)
                let weights = try SyntheticWeights(shape: shape, kind: kind, pool: ComputePool(threads: 2))
                let memory = try weights.makeModel(pool: ComputePool(threads: 2))
                XCTAssertTrue(loop ? memory is LoopCoderModel : memory is LlamaModel)
                let path = dir.path("tiny-\(loop)-\(kind).gguf")
                try writeGGUF(weights, to: path)
                let file = try loadModel(path, activations: memory.activationPrecision)
                XCTAssertEqual(file.architecture, memory.architecture)

                let a = try memory.forward(ids, cache: memory.makeCache(capacity: 16), logits: .all)
                let b = try file.forward(ids, cache: file.makeCache(capacity: 16), logits: .all)
                XCTAssertEqual(a.values, b.values, "\(kind) loop \(loop): prefill logits differ")
                XCTAssertTrue(a.values.allSatisfy(\.isFinite))
                // Not degenerate: logits vary over the vocabulary and between positions.
                XCTAssertGreaterThan(moments(Array(a.row(0))).std, 1e-3)
                XCTAssertNotEqual(Array(a.row(0)), Array(a.row(1)))

                let cacheA = try memory.makeCache(capacity: 16), cacheB = try file.makeCache(capacity: 16)
                for id in ids.prefix(4) {
                    let stepA = try memory.forward([id], cache: cacheA, logits: .last)
                    let stepB = try file.forward([id], cache: cacheB, logits: .last)
                    XCTAssertEqual(stepA.values, stepB.values, "\(kind) loop \(loop): decode logits differ")
                }
            }
        }
    }

    /// The cost the model reports is the shape's: every matrix counted once per pass.
    func testForwardCostCountsTheShapesMatrices() throws {
        for loop in [false, true] {
            let shape = tinyShape(loop: loop)
            let weights = try SyntheticWeights(shape: shape, kind: .q8_0, pool: ComputePool(threads: 1))
            let model = try weights.makeModel(pool: ComputePool(threads: 1))
            let cost = try XCTUnwrap((model as? ForwardCostReporting)?.forwardCost)
            let h = shape.hiddenSize, q = shape.heads * shape.headDim, kv = shape.kvHeads * shape.headDim, f = shape.intermediateSize
            let perLayer = 2 * h * q + 2 * h * kv + 3 * h * f
            XCTAssertEqual(cost.layerParameters, shape.layers * perLayer)
            XCTAssertEqual(cost.passes, loop ? 2 : 1)
            XCTAssertEqual(cost.outputParameters, shape.vocabularySize * h)
            XCTAssertEqual(cost.layerBytes, shape.layers * perLayer / 32 * 34)
            XCTAssertEqual(cost.decodeWeightBytes, cost.passes * cost.layerBytes + shape.vocabularySize * h / 32 * 34 + h / 32 * 34)
            // 3 tokens after 2 cached: positions 2, 3, 4 see 3, 4, 5 keys (window 3: 3, 3, 3).
            let attention = Double(4 * shape.heads * shape.headDim * shape.layers)
            var want = 2 * 3 * Double(cost.passes * shape.layers * perLayer) + 2 * Double(shape.vocabularySize * h)
            want += attention * 12 * Double(cost.passes) + (loop ? attention * 9 : 0)
            XCTAssertEqual(cost.flops(tokens: 3, cached: 2, logitRows: 1), want)
        }
    }

    func testMemoryCheckRefusesWhatCannotFitAndNamesTheLayersThatWould() throws {
        let shape = try XCTUnwrap(SyntheticShape.preset(named: "iquest-40b"))
        let plan = SyntheticRunPlan(cacheTokens: 512, chunkTokens: 512, threads: 2, probeBytes: 1 << 30)
        let need = shape.memoryEstimate(.f32, plan: plan)
        XCTAssertEqual(need.weights, shape.weightBytes(.f32))
        XCTAssertEqual(need.cache, 80 * 2 * 512 * 1024 * 4)
        XCTAssertEqual(need.total, need.weights + max(need.probe, need.cache + need.buffers) + need.process)
        XCTAssertNil(shape.memoryRefusal(.f32, plan: plan, available: need.total))

        let available = 24 << 30
        let message = try XCTUnwrap(shape.memoryRefusal(.f32, plan: plan, available: available))
        XCTAssertTrue(message.contains(String(format: "needs %.2f GB", Double(need.total) / 1e9)), message)
        XCTAssertTrue(message.contains(String(format: "weights %.2f GB", Double(need.weights) / 1e9)), message)
        XCTAssertTrue(message.contains("MemAvailable is 25.77 GB"), message)
        // The layer count it suggests is the largest that fits.
        let suggested = try XCTUnwrap(message.firstMatch(of: /--layers (\d+) would fit/).flatMap { Int($0.1) }, message)
        var fits = shape, over = shape
        fits.layers = suggested
        over.layers = suggested + 1
        XCTAssertLessThanOrEqual(fits.memoryEstimate(.f32, plan: plan).total, available)
        XCTAssertGreaterThan(over.memoryEstimate(.f32, plan: plan).total, available)
        XCTAssertTrue(shape.memoryRefusal(.f32, plan: plan, available: 1 << 30)?.contains("not even one layer fits") == true)

        // Loop: the pass-2 ring counts the slots written (≤ window), not its whole reservation.
        let loop = try XCTUnwrap(SyntheticShape.preset(named: "iquest-40b-loop"))
        XCTAssertEqual(loop.memoryEstimate(.q4_0, plan: plan).cache, 80 * 2 * 2 * 512 * 1024 * 4)
    }

    // MARK: - helpers

    /// A 2-layer model small enough to build in milliseconds; the Loop one with window 3, so a
    /// 10-token prompt crosses the window edge.
    /// k-quant kinds get rows that are multiples of 256: hidden 256, ffn 512, 4 heads of 64.
    func tinyShape(loop: Bool, kind: WeightKind = .q4_0) -> SyntheticShape {
        var s = SyntheticShape(name: loop ? "tiny-loop" : "tiny", layers: 2, loopWindow: loop ? 3 : nil)
        s.vocabularySize = 96
        s.hiddenSize = 64
        s.intermediateSize = 160
        s.heads = 4
        s.kvHeads = 2
        s.headDim = 16
        s.ropeTheta = 10_000
        s.contextLength = 64
        if kind.blockSize == 256 {
            s.hiddenSize = 256
            s.intermediateSize = 512
            s.headDim = 64
        }
        return s
    }

    func writeGGUF(_ w: SyntheticWeights, to path: String) throws {
        let s = w.shape, arch = s.architecture
        let writer = try GGUFWriter()
        try writer.addMetadata("general.architecture", .string(arch))
        for (key, value) in [("context_length", s.contextLength), ("embedding_length", s.hiddenSize), ("block_count", s.layers),
                             ("feed_forward_length", s.intermediateSize), ("attention.head_count", s.heads),
                             ("attention.head_count_kv", s.kvHeads), ("vocab_size", s.vocabularySize)] {
            try writer.addMetadata("\(arch).\(key)", .uint32(UInt32(value)))
        }
        try writer.addMetadata("\(arch).attention.layer_norm_rms_epsilon", .float32(s.rmsNormEps))
        try writer.addMetadata("\(arch).rope.freq_base", .float32(s.ropeTheta))
        if let window = s.loopWindow {
            try writer.addMetadata("\(arch).loop_num", .uint32(2))
            try writer.addMetadata("\(arch).loop_window_size", .uint32(UInt32(window)))
        }
        for t in w.tensors {
            try writer.addTensor(name: t.name, shape: t.shape.reversed(), type: GGMLType(t.kind), data: Array(w.data(t)))
        }
        try writer.write(to: path)
    }
}

private extension String {
    func layer(_ i: Int) -> String { "blk.\(i).\(self)" }
}

private func moments(_ values: [Float]) -> (mean: Double, std: Double) {
    let n = Double(values.count)
    let mean = values.reduce(0.0) { $0 + Double($1) } / n
    let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
    return (mean, variance.squareRoot())
}
