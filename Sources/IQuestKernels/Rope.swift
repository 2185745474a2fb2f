import Foundation

/// Which elements of a head a rotary rotation pairs up.
public enum RopeLayout: Sendable, Equatable {
    /// (2i, 2i+1): llama.cpp's GGUF files (their converter permutes Q/K rows into this order).
    case adjacentPairs
    /// (i, i + d/2): Hugging Face checkpoints ("rotate half").
    case rotateHalf
}

/// Rotary position embedding for heads of `headDim` elements. Frequencies follow the Llama
/// reference in fp32: inv_freq[i] = 1 / θ^(2i/d), angle = position · inv_freq[i].
public struct RotaryEmbedding: Sendable {
    public let headDim: Int
    public let layout: RopeLayout
    private let inverseFrequencies: [Float]

    public init(headDim: Int, theta: Float, layout: RopeLayout) {
        self.headDim = headDim
        self.layout = layout
        let d = Float(headDim)
        inverseFrequencies = (0..<(headDim / 2)).map { i in 1 / powf(theta, Float(2 * i) / d) }
    }

    /// Fills cos/sin tables [headDim/2] for one absolute position.
    public func angles(position: Int, cos c: UnsafeMutablePointer<Float>, sin s: UnsafeMutablePointer<Float>) {
        let p = Float(position)
        for i in 0..<(headDim / 2) {
            let a = p * inverseFrequencies[i]
            c[i] = Foundation.cos(a)
            s[i] = Foundation.sin(a)
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
