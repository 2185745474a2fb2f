import IQuestCKernels

/// y = x · Wᵀ for activations x [M, K] (f32, row-major) and weights W [N, K] in their stored
/// encoding; y is [M, N]. Weights are decoded inside the product, never expanded in memory:
/// - M < 4 (decode): each weight group is decoded in registers and dotted with x directly, so
///   each weight byte is read once per token (memory-bound path).
/// - M ≥ 4 (prompt): each thread decodes 8 weight rows at a time into an f32 panel that stays in
///   cache and reuses it for every token with a 4×2 register-blocked dot-product kernel
///   (compute-bound path).
/// Threads split the N output rows.
public func linear(_ x: UnsafePointer<Float>, rows m: Int, weights w: WeightMatrix,
                   into y: UnsafeMutablePointer<Float>, pool: ComputePool) {
    if m < 4 {
        pool.run { t in
            let rows = pool.slice(t, of: w.rows, granule: 4)
            guard !rows.isEmpty else { return }
            for token in 0..<m {
                matvecRows(w, x + token * w.columns, y + token * w.rows, rows)
            }
        }
    } else {
        pool.run { t in
            let rows = pool.slice(t, of: w.rows, granule: panelRows)
            guard !rows.isEmpty else { return }
            // f32 weights are used in place; other kinds are decoded into a cache-resident panel.
            let panel = w.kind == .f32 ? nil : UnsafeMutablePointer<Float>.allocate(capacity: panelRows * w.columns)
            defer { panel?.deallocate() }
            matmulPanels(w, x, m, y, rows, panel)
        }
    }
}

/// Rows of the weight panel decoded at once by the prompt path.
private let panelRows = 8

@inline(__always) private func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
private func matvecRows(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ rows: Range<Int>) {
    if w.kind == .f32 {
        let k = w.columns
        for r in rows { y[r] = dot(x, w.row(r).assumingMemoryBound(to: Float.self), k) }
    } else {
        iq_dot_rows(w.kind.cKind, w.row(rows.lowerBound), w.rowBytes, Int64(rows.count), x, Int64(w.columns), y + rows.lowerBound)
    }
}

@inline(__always)
private func matmulPanels(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ m: Int,
                          _ y: UnsafeMutablePointer<Float>, _ rows: Range<Int>,
                          _ scratch: UnsafeMutablePointer<Float>?) {
    let k = w.columns, n = w.rows
    var n0 = rows.lowerBound
    while n0 < rows.upperBound {
        let nt = min(panelRows, rows.upperBound - n0)
        let panel: UnsafePointer<Float>
        if let scratch {
            for j in 0..<nt { iq_decode_row(w.kind.cKind, w.row(n0 + j), scratch + j * k, Int64(k)) }
            panel = UnsafePointer(scratch)
        } else {
            panel = w.row(n0).assumingMemoryBound(to: Float.self)
        }
        var t = 0
        while t + 4 <= m {
            var j = 0
            while j + 2 <= nt {
                kernel4x2(x + t * k, panel + j * k, k, y + t * n + n0 + j, n)
                j += 2
            }
            if j < nt {
                for r in 0..<4 { y[(t + r) * n + n0 + j] = dot(x + (t + r) * k, panel + j * k, k) }
            }
            t += 4
        }
        while t < m {
            for j in 0..<nt { y[t * n + n0 + j] = dot(x + t * k, panel + j * k, k) }
            t += 1
        }
        n0 += nt
    }
}

/// 4 tokens × 2 weight rows, dot products along K (a multiple of 8); y rows are `ldy` apart.
@inline(__always)
private func kernel4x2(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ k: Int,
                       _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
    let x1 = x + k, x2 = x + 2 * k, x3 = x + 3 * k, w1 = w + k
    var i = 0
    while i < k {
        let b0 = load8(w + i), b1 = load8(w1 + i)
        let a0 = load8(x + i)
        c00 = c00.addingProduct(a0, b0); c01 = c01.addingProduct(a0, b1)
        let a1 = load8(x1 + i)
        c10 = c10.addingProduct(a1, b0); c11 = c11.addingProduct(a1, b1)
        let a2 = load8(x2 + i)
        c20 = c20.addingProduct(a2, b0); c21 = c21.addingProduct(a2, b1)
        let a3 = load8(x3 + i)
        c30 = c30.addingProduct(a3, b0); c31 = c31.addingProduct(a3, b1)
        i += 8
    }
    y[0] = c00.sum(); y[1] = c01.sum()
    y[ldy] = c10.sum(); y[ldy + 1] = c11.sum()
    y[2 * ldy] = c20.sum(); y[2 * ldy + 1] = c21.sum()
    y[3 * ldy] = c30.sum(); y[3 * ldy + 1] = c31.sum()
}

/// Dot product of two f32 vectors of length n (a multiple of 8).
@inline(__always)
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
    var i = 0
    while i + 16 <= n {
        s0 = s0.addingProduct(load8(a + i), load8(b + i))
        s1 = s1.addingProduct(load8(a + i + 8), load8(b + i + 8))
        i += 16
    }
    if i < n { s0 = s0.addingProduct(load8(a + i), load8(b + i)) }
    return (s0 + s1).sum()
}
