import ArgumentParser
import Foundation
import IQuestEngine
import IQuestKernels
import IQuestModels

/// Prompt-processing and generation speed, printed like llama.cpp's llama-bench so figures can
/// be compared side by side: `pp N` = one forward over N prompt tokens, `tg N` = N single-token
/// decode steps, each after `--depth` tokens of context (default 0; `pp512 @ d4096` as
/// llama-bench -d prints it). Each test runs `--repetitions` times; the table shows
/// mean ± standard deviation and the median, then what the median achieves: GFLOP/s for pp
/// (ForwardCost.flops), GB/s for tg (weights + keys/values read) and its share of the memory bandwidth measured by a
/// read probe in the same run on the same threads.
/// `--synthetic` builds an IQuest-shaped model with random weights in memory instead of loading
/// a file, after checking it fits in MemAvailable.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure prefill and decode speed.")

    @Option(name: .shortAndLong, help: "Path to a GGUF model file or checkpoint directory.")
    var model: String?
    @Option(help: "Build a model of this shape with random weights instead of loading one: \(synthesizable).")
    var synthetic: String?
    @Option(help: "With --synthetic: the layer count (default: the model's).")
    var layers: Int?
    @Option(name: .customLong("type"), help: "With --synthetic: the matrices' type (q4_0, q4_1, q4_k, q6_k, q8_0, bf16, f16, f32).")
    var type: String = "q4_0"
    @Option(help: "With a Loop --synthetic shape: loop_window_size (default 8192).")
    var loopWindow: Int?
    @Option(name: .shortAndLong, help: "Threads for the kernels (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: activationsHelp)
    var activations: ActivationPrecision = .standard
    @Option(name: [.customShort("p"), .long], help: "Prompt tokens for the prefill test (0 = skip).")
    var nPrompt: Int = 512
    @Option(name: [.customShort("n"), .long], help: "Tokens for the decode test (0 = skip).")
    var nGen: Int = 128
    @Option(name: [.customShort("r"), .long], help: "Repetitions of each test.")
    var repetitions: Int = 3
    @Option(name: [.customShort("d"), .long], help: "Context depths to measure at, e.g. 0,4096 (like llama-bench -d): pp and tg run after that many tokens.")
    var depth: String = "0"
    @Flag(help: "Fill the depth with random keys/values instead of a real (untimed) prefill; always so with --synthetic.")
    var syntheticFill = false
    @OptionGroup var kvCache: KVCacheOptions
    @OptionGroup var kernelOptions: KernelOptions
    @Option(help: "Also measure N sequences decoding together (batched steps over a shared KV pool), e.g. 1,4,8.")
    var parallel: String?
    @Option(help: "Also time one forward scoring K decode rows of one sequence (speculative verification's cost curve T(k)/T(1)), e.g. 1,2,4,8; -n forwards per repetition.")
    var verifyRows: String?

    static let synthesizable = SyntheticShape.presets.map(\.name).joined(separator: ", ")
    static let probeBytes = 1 << 30

    func validate() throws {
        if nPrompt < 0 || nGen < 0 { throw ValidationError("-p and -n must not be negative") }
        if repetitions < 1 { throw ValidationError("-r must be at least 1") }
        if let parallel {
            guard let streams = Self.streamCounts(parallel) else {
                throw ValidationError("--parallel takes stream counts like 1,4,8 (each 1…256)")
            }
            if nGen < 1 || streams.isEmpty { throw ValidationError("--parallel needs -n of at least 1") }
        }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let verifyRows {
            guard let rows = Self.streamCounts(verifyRows), rows.allSatisfy({ $0 <= 64 }) else {
                throw ValidationError("--verify-rows takes row counts like 1,2,4,8 (each 1…64)")
            }
            if nGen < 1 || rows.isEmpty { throw ValidationError("--verify-rows needs -n of at least 1") }
        }
        if Self.depths(depth) == nil { throw ValidationError("--depth takes token counts like 0,4096 (each 0 or more)") }
        switch (model, synthetic) {
        case (nil, nil): throw ValidationError("give a model (-m PATH) or a synthetic shape (--synthetic NAME)")
        case (.some, .some): throw ValidationError("-m and --synthetic exclude each other")
        case (.some, nil):
            if layers != nil || loopWindow != nil { throw ValidationError("--layers and --loop-window apply to --synthetic only") }
        case (nil, .some(let name)):
            guard let shape = SyntheticShape.preset(named: name) else {
                throw ValidationError("unknown --synthetic shape '\(name)' (known: \(Self.synthesizable))")
            }
            _ = try Self.weightKind(type)
            if let layers, layers < 1 { throw ValidationError("--layers must be at least 1") }
            if let loopWindow {
                guard shape.isLoop else { throw ValidationError("--loop-window applies to a Loop shape only") }
                guard loopWindow >= 1 else { throw ValidationError("--loop-window must be at least 1") }
            }
        }
    }

    static func streamCounts(_ text: String) -> [Int]? {
        let counts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 != nil && (1...256).contains($0!) }) else { return nil }
        return counts.compactMap { $0 }
    }

    static func depths(_ text: String) -> [Int]? {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
        return values.compactMap { $0 }
    }

    static func weightKind(_ name: String) throws -> WeightKind {
        switch name.lowercased() {
        case "q4_0": return .q4_0
        case "q4_1": return .q4_1
        case "q8_0": return .q8_0
        case "bf16": return .bf16
        case "f16": return .f16
        case "f32": return .f32
        case "q4_k": return .q4_K
        case "q6_k": return .q6_K
        case "q4_k_m", "q4_k_s":
            throw ValidationError("--type \(name): synthetic models use one type for every matrix; use q4_k (or q6_k) to measure the k-quant kernels")
        default:
            throw ValidationError("--type \(name) is not a type the engine computes with (q4_0, q4_1, q4_k, q6_k, q8_0, bf16, f16, f32)")
        }
    }

    func run() throws {
        try failingCleanly {
            let pool = ComputePool(threads: threads)
            let loaded = try model.map { try (model: LoadedModel.loadModel(path: $0, threads: threads, activations: activations), name: URL(fileURLWithPath: $0).lastPathComponent, size: modelBytes($0)) }
                ?? buildSynthetic(pool: pool)
            try measure(loaded.model, name: loaded.name, size: loaded.size, realFill: model != nil && !syntheticFill)
            if let parallel, let streams = Self.streamCounts(parallel) {
                try measureParallel(loaded.model, name: loaded.name, streams: streams)
            }
        }
    }

    /// Checks the estimate against MemAvailable, then builds the weights (progress on stderr).
    private func buildSynthetic(pool: ComputePool) throws -> (model: any LanguageModel, name: String, size: Int) {
        var shape = SyntheticShape.preset(named: synthetic!)!
        let kind = try Self.weightKind(type)
        let preset = shape.layers
        if let layers { shape.layers = layers }
        if let loopWindow { shape.loopWindow = loopWindow }
        let deepest = Self.depths(depth)?.max() ?? 0
        let plan = SyntheticRunPlan(cacheTokens: deepest + max(nPrompt, nGen + 1, 2), chunkTokens: max(nPrompt, 1),
                                    threads: threads, probeBytes: Self.probeBytes, kvTypes: kvCache.types)
        if let available = ProcessMemory.available(),
           let refusal = shape.memoryRefusal(kind, plan: plan, available: available) {
            throw GenerationError(refusal)
        }
        let name = "\(shape.name)\(shape.layers == preset ? "" : "/\(shape.layers)L") \(kind) (synthetic)"
        let total = shape.weightBytes(kind)
        printError(String(format: "building %@: %d layers%@, %.3f B parameters, %.2f GB of %@ weights",
                          name, shape.layers, shape.isLoop ? " × 2 passes (window \(shape.loopWindow!))" : "",
                          Double(shape.parameterCount) / 1e9, Double(total) / 1e9, "\(kind)"))
        let start = Date()
        var reported = 0
        let weights = try SyntheticWeights(shape: shape, kind: kind, pool: pool) { done, all in
            let tenth = done * 10 / all
            guard tenth > reported else { return }
            reported = tenth
            printError(String(format: "  %3d%% (%.1f s)", tenth * 10, Date().timeIntervalSince(start)))
        }
        print(String(format: "%@: %d layers%@, %.3f B parameters, %.2f GB of weights (random, built in %.1f s)",
                     name, shape.layers, shape.isLoop ? " × 2 passes, window \(shape.loopWindow!)" : "",
                     Double(shape.parameterCount) / 1e9, Double(total) / 1e9, Date().timeIntervalSince(start)))
        return (try weights.makeModel(pool: pool, activations: activations), name, weights.byteCount)
    }

    private func measure(_ model: any LanguageModel, name: String, size: Int, realFill: Bool) throws {
        let depths = Self.depths(depth) ?? [0]
        let types = kvCache.types
        if let reason = types.refusal(headDim: model.kvLayout.headDim) { throw GenerationError(reason) }
        let deepest = depths.max() ?? 0
        guard deepest + max(nPrompt, nGen) <= model.contextLength else {
            throw GenerationError("depth \(deepest) + pp\(nPrompt)/tg\(nGen) exceeds the model's context of \(model.contextLength)")
        }
        // Pseudo-random ids spread over the vocabulary, the same every run.
        let vocab = model.vocabularySize
        let ids = (0..<max(nPrompt, 1)).map { ($0 * 7919 + 13) % vocab }
        // One untimed warm-up pass pages the weights in.
        _ = try model.forward([ids[0]], cache: model.makeCache(capacity: 2), logits: .last)
        // The probe's buffer is freed before the tests; the peak RSS printed is the tests'.
        let probeSize = min(Self.probeBytes, (ProcessMemory.available() ?? Self.probeBytes * 4) / 4)
        let probe = measureReadBandwidth(bytes: probeSize, passes: 5, pool: model.pool)
        let peakIsReset = ProcessMemory.resetPeakResident()
        print(String(format: "memory read bandwidth: %.1f GB/s (probe: %.2f GiB buffer, %d threads, median of %d passes: %@)",
                     probe.median, Double(probe.bytes) / 1_073_741_824, probe.threads, probe.passes.count,
                     probe.passes.map { String(format: "%.1f", $0) }.joined(separator: " ")))
        print("activations: \(model.activationPrecision.rawValue) (products on q8_0/q4_0/q4_1/q4_K/q6_K weights); "
              + "prompt products: \(model.activationPrecision == .exact ? "float (exact)" : PromptProducts.current.rawValue)")
        print(KernelSet.summary)
        if let repack = model.repackReport { print(repack.summary) }
        let kvPerToken = model.kvLayout.bytesPerToken(types: types)
        print("KV cache: \(types), \(ByteSize.describe(kvPerToken)) per token"
              + (deepest > 0 ? (realFill ? "; depth filled by an untimed prefill of the same pseudo-random ids"
                                         : "; depth filled with random keys/values (synthetic fill, no prefill)") : ""))
        let cost = (model as? ForwardCostReporting)?.forwardCost
        print("| model | size | threads | test | t/s | median t/s | achieved | of probe |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        func row(_ test: String, _ rates: [Double], achieved: (Double) -> (String, String)) {
            let mean = rates.reduce(0, +) / Double(rates.count)
            let sd = (rates.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, rates.count - 1))).squareRoot()
            let median = rates.sorted()[rates.count / 2]
            let (work, share) = achieved(median)
            print(String(format: "| %@ | %.1f MiB | %d | %@ | %.2f ± %.2f | %.2f | %@ | %@ |", name,
                         Double(size) / 1_048_576, model.pool.threads, test, mean, sd, median, work, share))
        }
        for d in depths {
            let suffix = d > 0 ? " @ d\(d)" : ""
            let verifyCounts = verifyRows.flatMap(Self.streamCounts) ?? []
            let verifyRoom = verifyCounts.isEmpty ? 0 : nGen + (verifyCounts.max() ?? 1)
            guard let cache = try model.makeCache(capacity: d + max(nPrompt, nGen, verifyRoom, 1), types: types) as? PagedSequenceCache else {
                throw GenerationError("this model's cache cannot be filled to a depth")
            }
            // Brings the cache to `d` positions: back to the depth after a test when the cache
            // still holds it, else a fresh fill.
            func resetToDepth() throws {
                cache.truncate(to: d)
                guard cache.count != d else { return }
                if !realFill { return try cache.fillSynthetic(length: d) }
                cache.truncate(to: 0)
                var done = 0
                while done < d {
                    let n = min(512, d - done)
                    _ = try model.forward((done..<(done + n)).map { ($0 * 7919 + 13) % vocab }, cache: cache, logits: .last)
                    done += n
                }
            }
            if d > 0 {
                let start = Date()
                try resetToDepth()
                printError(String(format: "depth %d %@ in %.1f s", d, realFill ? "prefilled" : "filled", Date().timeIntervalSince(start)))
            }
            if nPrompt > 0 {
                var rates: [Double] = []
                for _ in 0..<repetitions {
                    try resetToDepth()
                    let start = Date()
                    _ = try model.forward(ids, cache: cache, logits: .last)
                    rates.append(Double(nPrompt) / Date().timeIntervalSince(start))
                }
                let flops = cost?.flops(tokens: nPrompt, cached: d, logitRows: 1)
                row("pp\(nPrompt)\(suffix)", rates) { rate in
                    (flops.map { String(format: "%.1f GFLOP/s", $0 * rate / Double(nPrompt) / 1e9) } ?? "–", "–")
                }
            }
            if nGen > 0 {
                var rates: [Double] = []
                for _ in 0..<repetitions {
                    try resetToDepth()
                    var token = ids[0]
                    let start = Date()
                    for _ in 0..<nGen {
                        let logits = try model.forward([token], cache: cache, logits: .last)
                        token = argmax(logits.values)
                    }
                    rates.append(Double(nGen) / Date().timeIntervalSince(start))
                }
                // Bytes per token: the weights plus the keys/values read, averaged over the test's positions.
                let kvBytes = cost.map { c in (d..<(d + nGen)).reduce(0) { $0 + c.decodeKVBytes(position: $1, bytesPerToken: kvPerToken) } / nGen } ?? 0
                row("tg\(nGen)\(suffix)", rates) { rate in
                    guard let bytes = cost?.decodeWeightBytes else { return ("–", "–") }
                    let gbs = Double(bytes + kvBytes) * rate / 1e9
                    let kvNote = d > 0 ? String(format: " (KV %.0f%%)", 100 * Double(kvBytes) / Double(bytes + kvBytes)) : ""
                    return (String(format: "%.1f GB/s%@", gbs, kvNote), String(format: "%.0f%%", 100 * gbs / probe.median))
                }
            }
            if !verifyCounts.isEmpty {
                let curve = try measureVerifyCurve(model, cache: cache, rows: verifyCounts, steps: nGen,
                                                   repetitions: repetitions, reset: resetToDepth)
                printVerifyCurve(curve, label: suffix)
            }
        }
        if peakIsReset, let peak = ProcessMemory.peakResident() {
            print(String(format: "peak RSS: %.1f MiB", Double(peak) / 1_048_576))
        } else {
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            print(String(format: "peak RSS: %.1f MiB (includes the probe's buffer)", Double(usage.ru_maxrss) / 1024))
        }
    }
}

func argmax(_ values: [Float]) -> Int {
    var best = 0
    for i in values.indices where values[i] > values[best] { best = i }
    return best
}

/// Bytes of a GGUF file, or of every file in a checkpoint directory.
func modelBytes(_ path: String) -> Int {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { return 0 }
    guard isDirectory.boolValue else { return (try? fm.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
    let names = (try? fm.contentsOfDirectory(atPath: path)) ?? []
    return names.reduce(0) { $0 + ((try? fm.attributesOfItem(atPath: path + "/" + $1)[.size] as? Int) ?? 0) }
}
