import Foundation

// q4_K and q6_K encoders, following the approach of ggml's reference quantizers
// (quantize_row_q4_K_ref / quantize_row_q6_K_ref) so files written here match what llama.cpp's
// tools produce in quality; bit layouts in IQuestCKernels/kquants.c.
//
// q4_K, per super-block of 256 = 8 sub-blocks of 32:
//   1. each sub-block gets a float scale s_j and min m_j by a weighted least-squares search
//      (weights w_i = rms(sub-block) + |x_i|, so large values count more) over candidate
//      quant grids, codes 0…15, x ≈ s_j·q − m_j with m_j ≥ 0;
//   2. s_j and m_j are quantized to 6 bits against super-block scales d = max s / 63 and
//      dmin = max m / 63 (stored as f16);
//   3. codes are recomputed against the quantized d·sc_j and dmin·mn_j.
// q6_K, per super-block of 256 = 16 sub-blocks of 16:
//   1. each sub-block gets a signed scale by a search around −32/x_max (the extreme value maps
//      to −32, so the code range −32…31 is used in full), weighted by x²;
//   2. scales are quantized to int8 against d = −(largest-magnitude scale)/128 (f16);
//   3. codes are recomputed as round(x / (d·sc)) clamped to −32…31, stored + 32.

/// round-half-to-even to Int, NaN → 0, clamped to lo…hi (ggml's nearest_int plus its clamps).
@inline(__always) private func nearestClamped(_ v: Float, _ lo: Int, _ hi: Int) -> Int {
    guard v.isFinite else { return v.isNaN ? 0 : (v > 0 ? hi : lo) }
    return Int(max(Float(lo), min(Float(hi), v.rounded(.toNearestOrEven))))
}

/// Values below this magnitude count as an all-zero group (ggml's GROUP_MAX_EPS).
private let groupMaxEps: Float = 1e-15

func quantizeQ4_K(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
    var codes = [UInt8](repeating: 0, count: 256)
    var scales = [Float](repeating: 0, count: 8), mins = [Float](repeating: 0, count: 8)
    var weights = [Float](repeating: 0, count: 32)
    for j in 0..<8 {
        let sub = x + 32 * j
        var sumSquares: Float = 0
        for i in 0..<32 { sumSquares += sub[i] * sub[i] }
        let rms = (sumSquares / 32).squareRoot()
        for i in 0..<32 { weights[i] = rms + abs(sub[i]) }
        (scales[j], mins[j]) = weights.withUnsafeBufferPointer { fitScaleMin(sub, $0.baseAddress!, nmax: 15) }
    }
    let maxScale = scales.max() ?? 0, maxMin = mins.max() ?? 0
    let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
    let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
    var sc = [Int](repeating: 0, count: 8), mn = [Int](repeating: 0, count: 8)
    for j in 0..<8 {
        sc[j] = nearestClamped(invScale * scales[j], 0, 63)
        mn[j] = nearestClamped(invMin * mins[j], 0, 63)
    }
    let dHalf = Float16(maxScale / 63), dminHalf = Float16(maxMin / 63)
    out.storeBytes(of: dHalf.bitPattern, as: UInt16.self)
    out.storeBytes(of: dminHalf.bitPattern, toByteOffset: 2, as: UInt16.self)
    // 12 scale bytes: bytes 0–3 hold sc0–3 (low 6 bits) + the top 2 bits of sc4–7; bytes 4–7
    // hold mn0–3 + the top 2 bits of mn4–7; bytes 8–11 hold the low 4 bits of sc4–7 and mn4–7.
    var packed = [UInt8](repeating: 0, count: 12)
    for j in 0..<4 {
        packed[j] = UInt8(sc[j] | ((sc[j + 4] >> 4) << 6))
        packed[j + 4] = UInt8(mn[j] | ((mn[j + 4] >> 4) << 6))
        packed[j + 8] = UInt8((sc[j + 4] & 0x0F) | ((mn[j + 4] & 0x0F) << 4))
    }
    for i in 0..<12 { out.storeBytes(of: packed[i], toByteOffset: 4 + i, as: UInt8.self) }
    let d = Float(dHalf), dmin = Float(dminHalf)
    for j in 0..<8 {
        let step = d * Float(sc[j])
        guard step != 0 else { continue }  // codes stay 0: the sub-block decodes to −dmin·mn
        let offset = dmin * Float(mn[j])
        for i in 0..<32 { codes[32 * j + i] = UInt8(nearestClamped((x[32 * j + i] + offset) / step, 0, 15)) }
    }
    // Byte 32·c + l: element 64·c + l (low nibble) and 64·c + 32 + l (high nibble).
    for c in 0..<4 {
        for l in 0..<32 {
            out.storeBytes(of: codes[64 * c + l] | (codes[64 * c + 32 + l] << 4), toByteOffset: 16 + 32 * c + l, as: UInt8.self)
        }
    }
}

/// Weighted least-squares fit of x ≈ scale·q − min over codes q ∈ 0…nmax, min ≥ 0 (so zero stays
/// representable); tries the plain min/max grid and 20 nearby grids (ggml's make_qkx2_quants
/// search: iscale = (nmax − 1 + 0.1·k)/(max − min), k = 0…20) and keeps the lowest weighted
/// squared error. Returns (scale, min) with scale ≥ 0. `x` and `w` hold 32 values, handled as
/// four 8-lane vectors (this search is most of a q4_K conversion's time).
private func fitScaleMin(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, nmax: Int) -> (Float, Float) {
    typealias V = SIMD8<Float>
    let xr = UnsafeRawPointer(x), wr = UnsafeRawPointer(w)
    let xs = (xr.loadUnaligned(as: V.self), xr.loadUnaligned(fromByteOffset: 32, as: V.self),
              xr.loadUnaligned(fromByteOffset: 64, as: V.self), xr.loadUnaligned(fromByteOffset: 96, as: V.self))
    let ws = (wr.loadUnaligned(as: V.self), wr.loadUnaligned(fromByteOffset: 32, as: V.self),
              wr.loadUnaligned(fromByteOffset: 64, as: V.self), wr.loadUnaligned(fromByteOffset: 96, as: V.self))
    var lo = min(min(xs.0.min(), xs.1.min()), min(xs.2.min(), xs.3.min()))
    let hi = max(max(xs.0.max(), xs.1.max()), max(xs.2.max(), xs.3.max()))
    let sumW = (ws.0 + ws.1 + ws.2 + ws.3).sum()
    let sumX = (ws.0 * xs.0 + ws.1 * xs.1 + ws.2 * xs.2 + ws.3 * xs.3).sum()
    let sumXX = (ws.0 * xs.0 * xs.0 + ws.1 * xs.1 * xs.1 + ws.2 * xs.2 * xs.2 + ws.3 * xs.3 * xs.3).sum()
    lo = min(lo, 0)
    guard hi > lo else { return (0, -lo) }
    let top = Float(nmax), magic = V(repeating: 12_582_912)
    // Σw·q, Σw·q², Σw·q·x for codes q = clamp(round_half_even(iscale·(x − lo)), 0, nmax) (NaN
    // inputs only make NaN sums, whose errors never win).
    @inline(__always) func sums(_ iscale: Float) -> (Float, Float, Float) {
        var l = V(), l2 = V(), xl = V()
        @inline(__always) func add(_ xv: V, _ wv: V) {
            // Adding and subtracting 1.5·2²³ rounds half to even for |v| < 2²² (here 0…~16),
            // in two vector adds (SIMD .rounded is per lane).
            let r = (iscale * (xv - lo) + magic) - magic
            let q = r.replacing(with: 0, where: r .< 0).replacing(with: top, where: r .> top)
            let wq = wv * q
            l += wq; l2 += wq * q; xl += wq * xv
        }
        add(xs.0, ws.0); add(xs.1, ws.1); add(xs.2, ws.2); add(xs.3, ws.3)
        return (l.sum(), l2.sum(), xl.sum())
    }
    // Σ w·(scale·q + offset − x)², expanded in the sums.
    @inline(__always) func error(_ scale: Float, _ offset: Float, _ s: (Float, Float, Float)) -> Float {
        scale * scale * s.1 + 2 * scale * offset * s.0 + offset * offset * sumW - 2 * (scale * s.2 + offset * sumX) + sumXX
    }
    var bestScale = (hi - lo) / top, bestMin = lo
    var bestError = error(bestScale, bestMin, sums(top / (hi - lo)))
    for step in 0...20 {
        let (sumL, sumL2, sumXL) = sums((top - 1 + 0.1 * Float(step)) / (hi - lo))
        let det = sumW * sumL2 - sumL * sumL
        guard det > 0 else { continue }
        var scale = (sumW * sumXL - sumX * sumL) / det
        var offset = (sumL2 * sumX - sumL * sumXL) / det
        if offset > 0 {
            offset = 0
            scale = sumXL / sumL2
        }
        let e = error(scale, offset, (sumL, sumL2, sumXL))
        if e < bestError, scale >= 0 {
            bestError = e; bestScale = scale; bestMin = offset
        }
    }
    return (bestScale, -bestMin)
}

func quantizeQ6_K(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
    var scales = [Float](repeating: 0, count: 16)
    var maxScale: Float = 0, maxAbsScale: Float = 0
    for s in 0..<16 {
        scales[s] = fitSignedScale(x + 16 * s, nmax: 32)
        if abs(scales[s]) > maxAbsScale { maxAbsScale = abs(scales[s]); maxScale = scales[s] }
    }
    guard maxAbsScale >= groupMaxEps else {
        out.initializeMemory(as: UInt8.self, repeating: 0, count: 210)
        return
    }
    let iscale = -128 / maxScale
    let dHalf = Float16(1 / iscale)
    out.storeBytes(of: dHalf.bitPattern, toByteOffset: 208, as: UInt16.self)
    var codes = [Int](repeating: 32, count: 256)
    for s in 0..<16 {
        let sc = nearestClamped(iscale * scales[s], -128, 127)
        out.storeBytes(of: Int8(sc), toByteOffset: 192 + s, as: Int8.self)
        let step = Float(dHalf) * Float(sc)
        guard step != 0 else { continue }
        for i in 0..<16 { codes[16 * s + i] = nearestClamped(x[16 * s + i] / step, -32, 31) + 32 }
    }
    // Per half h of 128: ql[l] = e_l | e_{l+64} << 4, ql[l+32] = e_{l+32} | e_{l+96} << 4 (low
    // 4 bits), qh[l] = the top 2 bits of e_l, e_{l+32}, e_{l+64}, e_{l+96} at bits 0, 2, 4, 6.
    for h in 0..<2 {
        let e = 128 * h
        for l in 0..<32 {
            let c0 = codes[e + l], c1 = codes[e + l + 32], c2 = codes[e + l + 64], c3 = codes[e + l + 96]
            out.storeBytes(of: UInt8((c0 & 15) | ((c2 & 15) << 4)), toByteOffset: 64 * h + l, as: UInt8.self)
            out.storeBytes(of: UInt8((c1 & 15) | ((c3 & 15) << 4)), toByteOffset: 64 * h + l + 32, as: UInt8.self)
            out.storeBytes(of: UInt8((c0 >> 4) | ((c1 >> 4) << 2) | ((c2 >> 4) << 4) | ((c3 >> 4) << 6)),
                           toByteOffset: 128 + 32 * h + l, as: UInt8.self)
        }
    }
}

/// A signed scale for codes −nmax…nmax−1 over 16 values: starts from −nmax / (the value with the
/// largest magnitude), then tries the 18 grids iscale = −(nmax + 0.1·k)/max, k = ±1…±9, keeping
/// the least-squares scale of the best (weights x², ggml's make_qx_quants with rmse_type 1).
private func fitSignedScale(_ x: UnsafePointer<Float>, nmax: Int) -> Float {
    var amax: Float = 0, signedMax: Float = 0
    for i in 0..<16 where abs(x[i]) > amax { amax = abs(x[i]); signedMax = x[i] }
    guard amax >= groupMaxEps else { return 0 }
    func sums(_ iscale: Float) -> (Float, Float) {
        var sumLX: Float = 0, sumL2: Float = 0
        for i in 0..<16 {
            let l = Float(nearestClamped(iscale * x[i], -nmax, nmax - 1)), w = x[i] * x[i]
            sumLX += w * x[i] * l; sumL2 += w * l * l
        }
        return (sumLX, sumL2)
    }
    let first = sums(-Float(nmax) / signedMax)
    var scale: Float = first.1 > 0 ? first.0 / first.1 : 0
    var best = scale * first.0
    for k in -9...9 where k != 0 {
        let (sumLX, sumL2) = sums(-(Float(nmax) + 0.1 * Float(k)) / signedMax)
        if sumL2 > 0, sumLX * sumLX > best * sumL2 {
            scale = sumLX / sumL2
            best = scale * sumLX
        }
    }
    return scale
}
