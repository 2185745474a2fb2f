import IQuestCKernels

/// Whether loading may repack weight matrices into the layout the active kernel set's decode
/// kernels read fastest (today: q8_0, q4_0, q4_1, q4_K and q6_K rows interleaved 16 at a time for AVX-512 VNNI and AVX2,
/// with int16 or int8 activations, which costs a copy of those matrices at load, in anonymous
/// memory, and releases the file's pages).
/// Process-wide, set from `--repack` / IQUEST_REPACK before models load.
public enum WeightRepacking: String, Sendable, CaseIterable {
    case auto, off

    nonisolated(unsafe) public static var current: WeightRepacking = .auto
}

extension WeightMatrix {
    /// Whether `WeightRepacking.current` and the active kernel set ask for this matrix to be
    /// interleaved (q8_0, q4_0, q4_1, q4_K or q6_K, rows a multiple of 16, a set with a kernel for the layout).
    public var prefersInterleaving16: Bool {
        WeightRepacking.current == .auto && layout == .rowMajor && rows % 16 == 0 && columns % groupSize == 0
            && iq_x16_preferred(kind.cKind, iq_kernel_set()) != 0
    }

    /// This matrix in the `.interleaved16` layout, written at `destination` (`byteCount` bytes,
    /// not overlapping the source) by the pool's threads, group by group.
    public func interleaving16(into destination: UnsafeMutableRawPointer, pool: ComputePool) -> WeightMatrix {
        let groups = rows / 16, groupBytes = 16 * rowBytes
        pool.run { t in
            let mine = pool.slice(t, of: groups)
            guard !mine.isEmpty else { return }
            iq_x16_interleave(kind.cKind, base + mine.lowerBound * groupBytes, rowBytes, Int64(mine.count * 16), Int64(columns),
                              destination + mine.lowerBound * groupBytes)
        }
        return WeightMatrix(kind: kind, rows: rows, columns: columns, base: UnsafeRawPointer(destination), layout: .interleaved16)
    }
}
