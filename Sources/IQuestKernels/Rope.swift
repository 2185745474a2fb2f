import Foundation

/// Which elements of a head a rotary rotation pairs up.
public enum RopeLayout: Sendable, Equatable {
    /// (2i, 2i+1): llama.cpp's GGUF files (their converter permutes Q/K rows into this order).
    case adjacentPairs
    /// (i, i + d/2): Hugging Face checkpoints ("rotate half").
    case rotateHalf
}

/// Rotary position embedding for heads of `headDim` elements: inv_freq[i] = θ^(−2i/d),
/// angle = position · inv_freq[i]. Angles, cos and sin are computed in double precision and
/// rounded once: in f32 the product p·inv_freq keeps only ~7 significant digits, so at p ≈ 10⁵
/// the angle of the fastest pair would be off by up to ~4e-3 rad (checked against a float64
/// reference in RopeAttentionTests up to position 131071).
public struct RotaryEmbedding: Sendable {
    public let headDim: Int
    public let layout: RopeLayout
    private let inverseFrequencies: [Double]

    public init(headDim: Int, theta: Float, layout: RopeLayout) {
        self.headDim = headDim
        self.layout = layout
        let d = Double(headDim)
        inverseFrequencies = (0..<(headDim / 2)).map { i in Foundation.pow(Double(theta), -Double(2 * i) / d) }
    }

    /// Fills cos/sin tables [headDim/2] for one absolute position.
    public func angles(position: Int, cos c: UnsafeMutablePointer<Float>, sin s: UnsafeMutablePointer<Float>) {
        let p = Double(position)
        for i in 0..<(headDim / 2) {
            let a = p * inverseFrequencies[i]
            c[i] = Float(Foundation.cos(a))
            s[i] = Float(Foundation.sin(a))
        }
    }

    /// Rotates `heads` consecutive heads of one token in place with precomputed cos/sin.
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int,
                      cos c: UnsafePointer<Float>, sin s: UnsafePointer<Float>) {
        let half = headDim / 2
        for h in 0..<heads {
            let v = x + h * headDim
            switch layout {
            case .adjacentPairs:
                for i in 0..<half {
                    let a = v[2 * i], b = v[2 * i + 1]
                    v[2 * i] = a * c[i] - b * s[i]
                    v[2 * i + 1] = a * s[i] + b * c[i]
                }
            case .rotateHalf:
                for i in 0..<half {
                    let a = v[i], b = v[i + half]
                    v[i] = a * c[i] - b * s[i]
                    v[i + half] = b * c[i] + a * s[i]
                }
            }
        }
    }
}
