import IQuestKernels

/// Random weights of a `SyntheticShape`, built in memory (no file) by quantizing random f32 rows
/// straight into the requested type with the repository's quantizers, and the model they make
/// through the same constructors (`LlamaModel`, `LoopCoderModel`) a GGUF file goes through.
///
/// Values: matrices ≈ N(0, 0.02²) (Irwin–Hall: a sum of four uniforms, bounded at ±3.5σ), so
/// activations stay finite over 160 layer passes; norm weights 1 + N(0, 0.02²); Loop gate
/// weights N(0, 0.02²) and biases 2.0 (the released Loop-Instruct's, gates ≈ 0.88). Every row
/// is seeded from (seed, tensor, row): the bytes do not depend on the thread count.
public final class SyntheticWeights {
    public let shape: SyntheticShape
    public let kind: WeightKind
    /// In file order (`shape.tensorList`).
    public let tensors: [InMemoryTensor]
    let arena: TensorArena

    /// `progress(bytesDone, bytesTotal)` is called after each tensor.
    public init(shape: SyntheticShape, kind: WeightKind, seed: UInt64 = 1, pool: ComputePool,
                progress: (Int, Int) -> Void = { _, _ in }) throws {
        try shape.validate()
        // k-quants need rows of whole 256-element super-blocks.
        for t in shape.tensorList where t.quantized && (t.shape.last ?? 0) % kind.blockSize != 0 {
            throw ModelError("\(shape.name): tensor '\(t.name)' rows have \(t.shape.last ?? 0) values; \(kind) needs a multiple of \(kind.blockSize)")
        }
        self.shape = shape
        self.kind = kind
        var offset = 0
        var list: [InMemoryTensor] = []
        for t in shape.tensorList {
            let tensor = InMemoryTensor(name: t.name, shape: t.shape, kind: t.quantized ? kind : .f32, offset: offset)
            list.append(tensor)
            offset += (tensor.byteCount + 63) / 64 * 64
        }
        tensors = list
        arena = try TensorArena(byteCount: offset)
        let maxColumns = list.map(\.columns).max() ?? 1
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: pool.threads * maxColumns)
        defer { scratch.deallocate() }
        var done = 0
        for (index, t) in list.enumerated() {
            let fill = Self.fill(for: t.name)
            let base = arena.base + t.offset, rowBytes = t.kind.rowBytes(columns: t.columns)
            pool.run { thread in
                let row = scratch + thread * maxColumns
                for r in pool.slice(thread, of: t.rows) {
                    var rng = RowRandom(seed: seed, tensor: index, row: r)
                    switch fill {
                    case .normal(let mean):
                        rng.fillNormal(row, count: t.columns, mean: mean, std: 0.02)
                    case .constant(let value):
                        row.update(repeating: value, count: t.columns)
                    }
                    quantizeRow(t.kind, row, count: t.columns, into: base + r * rowBytes)
                }
            }
            done += t.byteCount
            progress(done, shape.weightBytes(kind))
        }
    }

    private enum Fill { case normal(mean: Float), constant(Float) }

    private static func fill(for name: String) -> Fill {
        if name.hasSuffix("norm.weight") { return .normal(mean: 1) }
        if name.hasSuffix("loop_gate.bias") { return .constant(2) }
        return .normal(mean: 0)
    }

    /// Bytes of the weights, as stored.
    public var byteCount: Int { tensors.reduce(0) { $0 + $1.byteCount } }

    /// The stored bytes of one tensor (valid while this object lives).
    public func data(_ tensor: InMemoryTensor) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: arena.base + tensor.offset, count: tensor.byteCount)
    }

    /// The model these weights make, through the constructor a GGUF of the same architecture
    /// would use. The model keeps the weights alive.
    public func makeModel(pool: ComputePool, activations: ActivationPrecision = .standard) throws -> any LanguageModel {
        let source = InMemoryTensors(label: "synthetic \(shape.name)", arena: arena,
                                     tensors: Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0) }))
        if let window = shape.loopWindow {
            return try LoopCoderModel(config: shape.configuration, window: window, source: source, names: .gguf,
                                      gatePrefix: { "blk.\($0).loop_gate." }, architecture: shape.architecture,
                                      pool: pool, activations: activations, storage: self)
        }
        return try LlamaModel(config: shape.configuration, source: source, names: .gguf,
                              architecture: shape.architecture, pool: pool, activations: activations, storage: self)
    }
}

/// Per-row random numbers: eight xorshift32 lanes seeded by SplitMix64 from (seed, tensor, row).
/// Shifts and xors only, so the lanes vectorize on AVX2 (which has no 64-bit multiply).
private struct RowRandom {
    var state: SIMD8<UInt32>

    init(seed: UInt64, tensor: Int, row: Int) {
        var z = seed &+ UInt64(tensor) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(row) &* 0xD1B5_4A32_D192_ED03
        var lanes = SIMD8<UInt32>()
        for i in 0..<8 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            x ^= x >> 31
            lanes[i] = UInt32(truncatingIfNeeded: x) | 1      // xorshift32 needs a nonzero state
        }
        state = lanes
    }

    @inline(__always) mutating func next() -> SIMD8<UInt32> {
        state ^= state &<< 13
        state ^= state &>> 17
        state ^= state &<< 5
        return state
    }

    /// `count` (a multiple of 8) values ≈ N(mean, std²): four 16-bit uniforms summed, centred and scaled.
    mutating func fillNormal(_ out: UnsafeMutablePointer<Float>, count: Int, mean: Float, std: Float) {
        // Sum of four U{0…65535}: mean 131070, standard deviation 65535 / √3.
        let scale = SIMD8<Float>(repeating: std * Float(3).squareRoot() / 65535)
        let centre = SIMD8<Float>(repeating: 131_070), offset = SIMD8<Float>(repeating: mean)
        let mask = SIMD8<UInt32>(repeating: 0xFFFF)
        var i = 0
        while i + 8 <= count {
            let a = next(), b = next()
            let sum = (a & mask) &+ (a &>> 16) &+ (b & mask) &+ (b &>> 16)
            let v = (SIMD8<Float>(sum) - centre) * scale + offset
            UnsafeMutableRawPointer(out + i).storeBytes(of: v, as: SIMD8<Float>.self)
            i += 8
        }
        if i < count {
            let a = next(), b = next()
            let sum = (a & mask) &+ (a &>> 16) &+ (b & mask) &+ (b &>> 16)
            let v = (SIMD8<Float>(sum) - centre) * scale + offset
            for j in 0..<(count - i) { out[i + j] = v[j] }
        }
    }
}
