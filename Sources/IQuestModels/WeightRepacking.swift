#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import IQuestKernels

/// What loading repacked (see `WeightRepacking`): matrices moved to the layout the active kernel
/// set's decode kernels read fastest.
public struct RepackReport: Sendable, Equatable {
    public var matrices = 0
    public var bytes = 0
    public var seconds = 0.0
    /// The weight kinds moved ("q4_0", "q4_0/q4_K").
    public var kinds = ""
    /// Bytes of a tied output matrix (the embedding) copied rather than moved: the embedding
    /// stays for its row lookups, so the copy adds to resident memory.
    public var copiedBytes = 0

    public var summary: String {
        matrices == 0
            ? "weights: used in place (no repacking for this kernel set, weight type and activation precision)"
            : "weights: \(matrices) \(kinds) matrices (\(bytes >= 1 << 30 ? String(format: "%.2f GiB", Double(bytes) / 1_073_741_824) : String(format: "%.1f MiB", Double(bytes) / 1_048_576))) interleaved 16 rows at a time for "
                + "\(KernelSet.current) decode in \(String(format: "%.2f", seconds)) s"
                + (copiedBytes > 0 ? String(format: ", the tied output matrix as a copy (+%.1f MiB)", Double(copiedBytes) / 1_048_576) : "")
                + " (--repack off to keep them in place)"
    }
}

extension LanguageModel {
    /// What loading repacked; nil for models that never repack.
    public var repackReport: RepackReport? { nil }
}

extension LlamaWeights {
    /// Moves every projection matrix that `prefersInterleaving16` into one anonymous arena in the
    /// interleaved layout. The embedding stays as stored (single rows are looked up there); a
    /// tied output matrix, which is the embedding, gets an interleaved copy (the logits read the
    /// whole matrix every token: for SmolLM2 a fifth of the weights). With `releaseSources` (a
    /// file mapping) the sources' pages are given back, so resident memory stays about the
    /// model's size plus that copy.
    /// Only for integer activations (int16 or int8): the layout has kernels for both, while exact
    /// (f32) decode products on it would restore every group to row-major rows first (slower than
    /// no repack).
    mutating func repackForKernels(pool: ComputePool, releaseSources: Bool,
                                   activations: ActivationPrecision) throws(ModelError) -> RepackReport {
        var report = RepackReport()
        guard activations != .exact else { return report }
        var wanted: [WeightMatrix] = layers.flatMap { [$0.wq, $0.wk, $0.wv, $0.wo, $0.wGate, $0.wUp, $0.wDown] }
        wanted.append(output)
        wanted = wanted.filter(\.prefersInterleaving16)
        guard !wanted.isEmpty else { return report }
        let start = Date()
        var offsets: [UnsafeRawPointer: Int] = [:], total = 0
        for w in wanted where offsets[w.base] == nil {
            offsets[w.base] = total
            total += (w.byteCount + 63) / 64 * 64
        }
        let arena = try TensorArena(byteCount: total)
        var done: [UnsafeRawPointer: WeightMatrix] = [:]
        func repacked(_ w: WeightMatrix) -> WeightMatrix {
            guard w.prefersInterleaving16, let offset = offsets[w.base] else { return w }
            if let copy = done[w.base] { return copy }
            let copy = w.interleaving16(into: arena.base + offset, pool: pool)
            if w.base == embedding.base { report.copiedBytes += w.byteCount }
            else if releaseSources { Self.release(w.base, byteCount: w.byteCount) }
            done[w.base] = copy
            report.matrices += 1
            report.bytes += w.byteCount
            if !report.kinds.split(separator: "/").contains(Substring("\(w.kind)")) {
                report.kinds += (report.kinds.isEmpty ? "" : "/") + "\(w.kind)"
            }
            return copy
        }
        for i in layers.indices {
            layers[i].wq = repacked(layers[i].wq)
            layers[i].wk = repacked(layers[i].wk)
            layers[i].wv = repacked(layers[i].wv)
            layers[i].wo = repacked(layers[i].wo)
            layers[i].wGate = repacked(layers[i].wGate)
            layers[i].wUp = repacked(layers[i].wUp)
            layers[i].wDown = repacked(layers[i].wDown)
        }
        output = repacked(output)
        repackStorage = arena
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    /// Drops the whole pages of a read-only file mapping inside [base, base + byteCount) from
    /// this process (they would be read from the file again if touched).
    private static func release(_ base: UnsafeRawPointer, byteCount: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: base) + page - 1) / page * page
        let end = (Int(bitPattern: base) + byteCount) / page * page
        guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(p, end - start, Int32(MADV_DONTNEED))
    }
}
