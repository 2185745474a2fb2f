import Foundation
import IQuestFormats
import IQuestKernels
import IQuestModels

/// Reads an HF checkpoint directory (LlamaForCausalLM, IQuestCoderForCausalLM,
/// IQuestLoopCoderForCausalLM) and lays it out as llama.cpp does: tensor names, Q/K rows
/// permuted to adjacent-pair RoPE order, metadata keys under the architecture prefix, and the
/// tokenizer in llama.cpp's keys (`TokenizerCarryOver`).
struct HFConversionSource: ConversionSource {
    let directory: String
    let config: HFConfig
    let model: LlamaConfiguration
    let checkpoint: SafetensorsCheckpoint
    let architecture: String
    let loopWindow: Int?
    let tokenizer: TokenizerCarryOver
    var notes: [String] { tokenizer.notes }

    static let loopClass = "IQuestLoopCoderForCausalLM"

    init(directory: String) throws {
        self.directory = directory
        config = try HFConfig(directory: directory)
        guard let cls = config.architectures.first else {
            throw ModelError("\(config.path): 'architectures' is missing, so the model class is unknown")
        }
        guard ModelRegistry.supportedHFArchitectures.contains(cls) else {
            throw ModelError("\(config.path): architecture '\(cls)' cannot be converted (supported: \(ModelRegistry.supportedHFArchitectures.joined(separator: ", ")))")
        }
        let isLoop = cls == Self.loopClass
        model = try LlamaConfiguration(hf: config, loops: isLoop ? 2 : 1)
        architecture = isLoop ? "iquestloopcoder" : "llama"
        loopWindow = isLoop ? try config.int("loop_window_size") : nil
        if isLoop, (loopWindow ?? 0) <= 0 {
            throw ModelError("\(config.path): 'loop_window_size' must be a positive integer")
        }
        do { checkpoint = try SafetensorsCheckpoint(directory: directory) } catch { throw ModelError(error.description) }
        tokenizer = try TokenizerCarryOver(directory: directory, config: config, vocabularySize: model.vocabularySize)
    }

    func metadata(fileType: UInt32) -> [(String, GGUFValue)] {
        let a = architecture, m = model
        var out: [(String, GGUFValue)] = [
            ("general.architecture", .string(a)),
            ("general.name", .string(URL(fileURLWithPath: directory).lastPathComponent)),
            ("general.file_type", .uint32(fileType)),
            ("general.quantization_version", .uint32(2)),
            ("\(a).context_length", .uint32(UInt32(m.contextLength))),
            ("\(a).embedding_length", .uint32(UInt32(m.hiddenSize))),
            ("\(a).block_count", .uint32(UInt32(m.layers))),
            ("\(a).feed_forward_length", .uint32(UInt32(m.intermediateSize))),
            ("\(a).attention.head_count", .uint32(UInt32(m.heads))),
            ("\(a).attention.head_count_kv", .uint32(UInt32(m.kvHeads))),
            ("\(a).attention.layer_norm_rms_epsilon", .float32(m.rmsNormEps)),
            ("\(a).rope.freq_base", .float32(m.ropeTheta)),
            ("\(a).rope.dimension_count", .uint32(UInt32(m.headDim))),
            ("\(a).vocab_size", .uint32(UInt32(m.vocabularySize))),
        ]
        if m.headDim * m.heads != m.hiddenSize {
            out.append(("\(a).attention.key_length", .uint32(UInt32(m.headDim))))
            out.append(("\(a).attention.value_length", .uint32(UInt32(m.headDim))))
        }
        if let w = loopWindow {
            out.append(("\(a).loop_num", .uint32(2)))
            out.append(("\(a).loop_window_size", .uint32(UInt32(w))))
        }
        return out + tokenizer.metadata
    }

    func tensors(scheme: QuantizationScheme) throws -> [PlannedTensor] {
        let m = model
        var used = Set<String>()
        var plan: [PlannedTensor] = []

        func stored(_ name: String, shape: [Int]) throws -> StoredRows {
            guard let info = checkpoint.info(name), let data = checkpoint.data(name)?.baseAddress else {
                throw ModelError("\(directory): required tensor '\(name)' is missing from the checkpoint")
            }
            guard info.shape == shape else {
                throw ModelError("\(checkpoint.path(of: name) ?? directory): tensor '\(name)' has shape \(info.shape), expected \(shape) from config.json")
            }
            guard let kind = info.dtype.weightKind else {
                throw ModelError("\(directory): tensor '\(name)' has dtype \(info.dtype.rawValue); only F32, F16 and BF16 can be converted")
            }
            used.insert(name)
            return StoredRows(kind: kind, base: data, columns: shape.last ?? 0)
        }
        func matrix(_ hf: String, _ gguf: String, rows: Int, columns: Int, ropeHeadDim: Int? = nil) throws {
            let src = try stored(hf, shape: [rows, columns])
            let kind = try scheme.matrixKind(name: gguf, columns: columns, layer: layerIndex(gguf), layers: m.layers,
                                             hasOutput: !m.tiedEmbeddings)
            plan.append(PlannedTensor(name: gguf, shape: [rows, columns], kind: kind) { r, row in
                src.read(ropeHeadDim.map { ropePermuted(r, headDim: $0) } ?? r, into: row)
            })
        }
        func vector(_ hf: String, _ gguf: String, count: Int) throws {
            let src = try stored(hf, shape: [count])
            plan.append(PlannedTensor(name: gguf, shape: [count], kind: .f32) { _, row in src.read(0, into: row) })
        }

        let q = m.heads * m.headDim, kv = m.kvHeads * m.headDim, h = m.hiddenSize
        try matrix("model.embed_tokens.weight", "token_embd.weight", rows: m.vocabularySize, columns: h)
        for i in 0..<m.layers {
            let p = "model.layers.\(i).", b = "blk.\(i)."
            try vector(p + "input_layernorm.weight", b + "attn_norm.weight", count: h)
            try matrix(p + "self_attn.q_proj.weight", b + "attn_q.weight", rows: q, columns: h, ropeHeadDim: m.headDim)
            try matrix(p + "self_attn.k_proj.weight", b + "attn_k.weight", rows: kv, columns: h, ropeHeadDim: m.headDim)
            try matrix(p + "self_attn.v_proj.weight", b + "attn_v.weight", rows: kv, columns: h)
            try matrix(p + "self_attn.o_proj.weight", b + "attn_output.weight", rows: h, columns: q)
            try vector(p + "post_attention_layernorm.weight", b + "ffn_norm.weight", count: h)
            try matrix(p + "mlp.gate_proj.weight", b + "ffn_gate.weight", rows: m.intermediateSize, columns: h)
            try matrix(p + "mlp.up_proj.weight", b + "ffn_up.weight", rows: m.intermediateSize, columns: h)
            try matrix(p + "mlp.down_proj.weight", b + "ffn_down.weight", rows: h, columns: m.intermediateSize)
            if loopWindow != nil {
                // Gate [heads, headDim], kept f32; its columns index rotated query dimensions.
                let gate = try stored("model.gate_projections.\(i).weight", shape: [m.heads, m.headDim])
                let headDim = m.headDim
                plan.append(PlannedTensor(name: b + "loop_gate.weight", shape: [m.heads, m.headDim], kind: .f32) { r, row in
                    var hfRow = [Float](repeating: 0, count: headDim)
                    hfRow.withUnsafeMutableBufferPointer { gate.read(r, into: $0.baseAddress!) }
                    for c in 0..<headDim { row[c] = hfRow[ropePermuted(c, headDim: headDim)] }
                })
                try vector("model.gate_projections.\(i).bias", b + "loop_gate.bias", count: m.heads)
            }
        }
        try vector("model.norm.weight", "output_norm.weight", count: h)
        if !m.tiedEmbeddings {
            try matrix("lm_head.weight", "output.weight", rows: m.vocabularySize, columns: h)
        }
        let leftover = checkpoint.tensorNames.filter { !used.contains($0) && !$0.hasSuffix("rotary_emb.inv_freq") }
        if let first = leftover.first {
            throw ModelError("\(directory): tensor '\(first)' (and \(leftover.count - 1) more) has no place in a \(architecture) GGUF; refusing to drop weights")
        }
        return plan
    }
}
