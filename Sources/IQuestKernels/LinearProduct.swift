import IQuestCKernels

/// y = x · Wᵀ for activations x [M, K] (f32, row-major) and weights W [N, K] in their stored
/// encoding; y is [M, N]. Weights are decoded inside the product, never expanded in memory.
/// `path` (ProductPath) picks the kernels; `.automatic` takes the decode path for M < 4:
/// - decode: each weight row is decoded in registers and dotted with x directly (memory-bound
///   path, C row kernels); with several tokens each block (integer kernels) or each chunk of
///   rows (f32 kernels) is read once for all of them, and every token's result is bitwise what
///   it is alone.
/// - prompt (GEMM): each thread packs 16 weight rows at a time, decoded to f32 and transposed
///   to [K, 16], into a cache-resident panel, and sweeps every token over it with a 6×16
///   register-blocked outer-product kernel (compute-bound path).
/// Threads split the N output rows (the split does not depend on M; decode products in several
/// parts per thread, claimed as threads come free).
/// With `quantized` scratch (ActivationPrecision.int16 / .int8), the decode path and
/// q8_0/q4_0/q4_1/q4_K/q6_K weights, x is quantized once into it and the rows are dotted with
/// integer SIMD instead. On the prompt path with that scratch, PromptProducts.integer and a
/// kernel for the kind in the active KernelSet, x is quantized in the scratch's precision (int16
/// as two int8 planes, or int8; PromptProducts.int8 asks for int8 whatever the scratch) and
/// multiplied by the integer GEMM (IQuestCKernels/gemm_int8.c) instead of the f32 panels.
public func linear(_ x: UnsafePointer<Float>, rows m: Int, weights w: WeightMatrix,
                   into y: UnsafeMutablePointer<Float>, pool: ComputePool, quantized: QuantizedActivations? = nil,
                   path: ProductPath = .automatic) {
    guard m > 0 else { return }
    if path.decodes(m) {
        var integer: QuantizedActivations? = nil
        if let quantized, w.kind.hasIntegerDot {
            quantized.quantize(x, rows: m, columns: w.columns)
            integer = quantized
        }
        let product = DecodeProduct(w, into: y)
        let parts = pool.decodeParts(bytes: w.byteCount)
        pool.run(parts: parts) { part in decodeSlice(x, m, product, part, of: parts, pool, integer) }
    } else {
        let integer = takesIntegerGEMM(w, quantized) ? quantized : nil
        integer?.quantizePrompt(x, rows: m, columns: w.columns)
        promptProduct(x, m, w, y, pool, integer)
    }
}

/// Whether a prompt-path product with `w` goes to the integer GEMM (a scratch, PromptProducts
/// integer or int8, and a kernel for the kind in the active set).
@inline(__always)
func takesIntegerGEMM(_ w: WeightMatrix, _ quantized: QuantizedActivations?) -> Bool {
    quantized != nil && PromptProducts.current != .float && w.kind.hasIntegerDot
        && iq_gemm_q8_supported(w.kind.cKind, iq_kernel_set()) != 0
}

/// y = x · Wᵀ on the prompt path: the integer GEMM over `integer`'s already quantized input
/// (`quantizePrompt` of this x), else the f32 panels.
func promptProduct(_ x: UnsafePointer<Float>, _ m: Int, _ w: WeightMatrix, _ y: UnsafeMutablePointer<Float>,
                   _ pool: ComputePool, _ integer: QuantizedActivations?) {
    pool.run { t in
        let rows = pool.slice(t, of: w.rows, granule: panelWidth)
        guard !rows.isEmpty else { return }
        if let integer, integer.promptProduct(w, rows, tokens: m, into: y) { return }
        floatPanels(w, x, m, y, rows)
    }
}

/// Thread's `rows` of the f32 GEMM (packed panels).
@inline(__always)
private func floatPanels(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ m: Int, _ y: UnsafeMutablePointer<Float>,
                         _ rows: Range<Int>) {
    let panel = UnsafeMutablePointer<Float>.allocate(capacity: panelWidth * w.columns + w.columns)
    defer { panel.deallocate() }
    matmulPanels(w, x, m, y, rows, panel)
}

/// Weight rows per packed panel (two 8-lane vectors).
private let panelWidth = 16
/// Tokens per micro-kernel call.
private let tileRows = 6
/// Most K per pass (a panel slice of kBlock × 16 floats = 36 KiB, about L1 + what L2 streams
/// well); K is split into equal passes. On SmolLM2 shapes a single pass for K = 576 measured
/// faster than 256 + 256 + 64 (fewer accumulator reloads, no short pass).
private let kBlock = 576

@inline(__always) private func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func matvecRows(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ rows: Range<Int>) {
    if w.kind == .f32 {
        let k = w.columns
        for r in rows { y[r] = dot(x, w.row(r).assumingMemoryBound(to: Float.self), k) }
    } else {
        let dotRows = w.layout == .interleaved16 ? iq_x16_dot_rows : iq_dot_rows
        dotRows(w.kind.cKind, w.row(rows.lowerBound), w.rowBytes, Int64(rows.count), x, Int64(w.columns), y + rows.lowerBound)
    }
}

/// Packs W rows [n0, n0+nt) as panel[k·16 + j] = W[n0+j][k] (zero for j ≥ nt).
@inline(__always)
private func packPanel(_ w: WeightMatrix, _ n0: Int, _ nt: Int, _ panel: UnsafeMutablePointer<Float>,
                       _ rowBuffer: UnsafeMutablePointer<Float>) {
    let k = w.columns
    if k % groupSize == 0 {
        let pack = w.layout == .interleaved16 ? iq_x16_pack_panel16 : iq_pack_panel16
        pack(w.kind.cKind, w.row(n0), w.rowBytes, Int64(nt), Int64(k), panel)
        return
    }
    for j in 0..<panelWidth {
        if j < nt {
            dequantizeRow(w.kind, w.row(n0 + j), into: rowBuffer, count: k)
            for i in 0..<k { panel[i * panelWidth + j] = rowBuffer[i] }
        } else {
            for i in 0..<k { panel[i * panelWidth + j] = 0 }
        }
    }
}

@inline(__always)
private func matmulPanels(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ m: Int,
                          _ y: UnsafeMutablePointer<Float>, _ rows: Range<Int>,
                          _ scratch: UnsafeMutablePointer<Float>) {
    let k = w.columns, n = w.rows
    let panel = scratch, rowBuffer = scratch + panelWidth * k
    var tail = [Float](repeating: 0, count: tileRows * panelWidth)
    var n0 = rows.lowerBound
    while n0 < rows.upperBound {
        let nt = min(panelWidth, rows.upperBound - n0)
        packPanel(w, n0, nt, panel, rowBuffer)
        // K blocks of at most kBlock, as equal as possible (multiples of 8).
        let passes = (k + kBlock - 1) / kBlock
        let step = ((k + passes - 1) / passes + 7) / 8 * 8
        var k0 = 0
        while k0 < k {
            let kc = min(step, k - k0)
            var t = 0
            while t < m {
                let mr = min(tileRows, m - t)
                if nt == panelWidth {
                    microKernel(x + t * k + k0, k, mr, panel + k0 * panelWidth, kc, y + t * n + n0, n, k0 == 0)
                } else {
                    // Partial panel: compute into a [6, 16] buffer, copy the valid columns out.
                    tail.withUnsafeMutableBufferPointer { buf in
                        let b = buf.baseAddress!
                        for r in 0..<mr { for j in 0..<nt { b[r * panelWidth + j] = k0 == 0 ? 0 : y[(t + r) * n + n0 + j] } }
                        microKernel(x + t * k + k0, k, mr, panel + k0 * panelWidth, kc, b, panelWidth, false)
                        for r in 0..<mr { for j in 0..<nt { y[(t + r) * n + n0 + j] = b[r * panelWidth + j] } }
                    }
                }
                t += mr
            }
            k0 += kc
        }
        n0 += nt
    }
}

/// y[r, 0..<16] (+)= Σ_k x[r, k] · panel[k, 0..<16] for r < mr ≤ 6: twelve 8-lane accumulators,
/// two panel loads and six broadcasts per k. `x` rows are `ldx` apart, panel rows `ldp` apart,
/// `y` rows `ldy` apart; `overwrite` stores instead of accumulating (first K block).
@inline(__always)
func microKernel(_ x: UnsafePointer<Float>, _ ldx: Int, _ mr: Int, _ panel: UnsafePointer<Float>, _ kc: Int,
                 _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ overwrite: Bool, ldp: Int = 16) {
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
    var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
    // Rows past mr read row 0 again (valid memory) and are never stored.
    let x0 = x, x1 = mr > 1 ? x + ldx : x, x2 = mr > 2 ? x + 2 * ldx : x
    let x3 = mr > 3 ? x + 3 * ldx : x, x4 = mr > 4 ? x + 4 * ldx : x, x5 = mr > 5 ? x + 5 * ldx : x
    var p = panel
    for i in 0..<kc {
        let b0 = load8(p), b1 = load8(p + 8)
        var a = SIMD8<Float>(repeating: x0[i])
        c00 = c00.addingProduct(a, b0); c01 = c01.addingProduct(a, b1)
        a = SIMD8<Float>(repeating: x1[i])
        c10 = c10.addingProduct(a, b0); c11 = c11.addingProduct(a, b1)
        a = SIMD8<Float>(repeating: x2[i])
        c20 = c20.addingProduct(a, b0); c21 = c21.addingProduct(a, b1)
        a = SIMD8<Float>(repeating: x3[i])
        c30 = c30.addingProduct(a, b0); c31 = c31.addingProduct(a, b1)
        a = SIMD8<Float>(repeating: x4[i])
        c40 = c40.addingProduct(a, b0); c41 = c41.addingProduct(a, b1)
        a = SIMD8<Float>(repeating: x5[i])
        c50 = c50.addingProduct(a, b0); c51 = c51.addingProduct(a, b1)
        p += ldp
    }
    @inline(__always) func put(_ r: Int, _ lo: SIMD8<Float>, _ hi: SIMD8<Float>) {
        let out = UnsafeMutableRawPointer(y + r * ldy)
        if overwrite {
            out.storeBytes(of: lo, as: SIMD8<Float>.self)
            (out + 32).storeBytes(of: hi, as: SIMD8<Float>.self)
        } else {
            out.storeBytes(of: lo + out.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
            (out + 32).storeBytes(of: hi + (out + 32).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
        }
    }
    put(0, c00, c01)
    if mr > 1 { put(1, c10, c11) }
    if mr > 2 { put(2, c20, c21) }
    if mr > 3 { put(3, c30, c31) }
    if mr > 4 { put(4, c40, c41) }
    if mr > 5 { put(5, c50, c51) }
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
