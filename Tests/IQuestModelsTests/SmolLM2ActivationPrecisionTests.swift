import Foundation
import IQuestFormats
import IQuestKernels
import IQuestModels
import Testing

/// SmolLM2-135M-Instruct Q4_1 with quantized activations in the decode products: how far the
/// next-token distribution moves from the exact path, and whether transformers' greedy
/// continuations survive. Needs the asset from tools/fetch-assets.sh.
@Suite struct SmolLM2ActivationPrecisionTests {
    /// Largest KL(P_exact ‖ P) allowed at any position, and the mean over all positions. int16 is
    /// held to the issue's bound; int8 (llama.cpp's scheme) to what it measures (max ~0.03, mean
    /// ~0.004), which is above that bound.
    static func bounds(_ precision: ActivationPrecision) -> (max: Double, mean: Double) {
        precision == .int16 ? (1e-2, 1e-3) : (5e-2, 1e-2)
    }

    /// Every position through the quantized path (the prompt fed one token at a time, so every
    /// product has M = 1) against the exact path's prefill: KL(P_exact ‖ P) per position over the
    /// whole vocabulary. The exact path stands in for transformers' softmax, which the fixture
    /// stores only as top-16 logits; SmolLM2ParityTests holds it to those within 1e-3 per logit.
    @Test(arguments: [ActivationPrecision.int16, .int8])
    func nextTokenDistributionStaysClose(precision: ActivationPrecision) throws {
        let parity = try SmolParity.load()
        let exact = try loadModel(Fixtures.smolLM2Path, activations: .exact)
        let fast = try loadModel(Fixtures.smolLM2Path, activations: precision)
        #expect(fast.activationPrecision == precision && exact.activationPrecision == .exact)
        let bound = Self.bounds(precision)
        var worst = 0.0, sum = 0.0, positions = 0, worstTop = 0.0
        for prompt in parity.prompts {
            let n = prompt.ids.count
            let reference = try exact.forward(prompt.ids, cache: exact.makeCache(capacity: n), logits: .all)
            let cache = try fast.makeCache(capacity: n)
            for p in 0..<n {
                let got = try fast.forward([prompt.ids[p]], cache: cache, logits: .last)
                let kl = klDivergence(reference.row(p), got.row(0))
                worst = max(worst, kl)
                sum += kl
                positions += 1
                #expect(kl <= bound.max, "\(precision) \(prompt.name) position \(p): KL \(kl)")
                let r = got.row(0)
                let top = prompt.top_ids[p].map { Double(r[r.startIndex + $0]) }
                worstTop = max(worstTop, maxAbsDiff(top, prompt.top_logits[p]))
            }
        }
        let mean = sum / Double(positions)
        #expect(mean <= bound.mean, "\(precision): mean KL \(mean)")
        print("SmolLM2 \(precision) vs exact: KL max \(worst), mean \(mean) over \(positions) positions; top-16 max |Δlogit| vs transformers \(worstTop)")
    }

    /// The prompt path: whole prompts in one forward (the integer GEMM in the model's precision,
    /// PromptProducts.integer) against the exact path's prefill, KL(P_exact ‖ P) at every position.
    /// int16 runs as two int8 planes (Q = 32639) and is held to the decode path's bounds; int8 is
    /// llama.cpp's activation scheme for prompts (q8_0 blocks of 32).
    @Test(arguments: [ActivationPrecision.int16, .int8])
    func prefillDistributionStaysClose(precision: ActivationPrecision) throws {
        #expect(PromptProducts.current == .integer)
        let parity = try SmolParity.load()
        let exact = try loadModel(Fixtures.smolLM2Path, activations: .exact)
        let fast = try loadModel(Fixtures.smolLM2Path, activations: precision)
        let bound = Self.bounds(precision)
        var worst = 0.0, sum = 0.0, positions = 0
        for prompt in parity.prompts where prompt.ids.count >= 4 {
            let n = prompt.ids.count
            let reference = try exact.forward(prompt.ids, cache: exact.makeCache(capacity: n), logits: .all)
            let got = try fast.forward(prompt.ids, cache: fast.makeCache(capacity: n), logits: .all)
            for p in 0..<n {
                let kl = klDivergence(reference.row(p), got.row(p))
                worst = max(worst, kl)
                sum += kl
                positions += 1
                #expect(kl <= bound.max, "\(precision) prefill \(prompt.name) position \(p): KL \(kl)")
            }
        }
        #expect(positions > 0)
        let mean = sum / Double(max(positions, 1))
        #expect(mean <= bound.mean, "\(precision) prefill: mean KL \(mean)")
        print("SmolLM2 \(precision) prefill (integer prompt GEMM, kernels \(KernelSet.current)) vs exact: KL max \(worst), mean \(mean) over \(positions) positions")
    }

    /// Transformers' 32-token greedy continuations, token for token, with int16 activations: after
    /// an exact prefill (what generation does for prompts of 4 or more tokens) and with the prompt
    /// fed one token at a time (every product quantized). int8 is run too and its agreement only
    /// reported: it changes these continuations (near-ties of 0.04 and 0.16 in the reference).
    @Test(arguments: [ActivationPrecision.int16, .int8], ["prefill", "token by token"])
    func greedyContinuations(precision: ActivationPrecision, mode: String) throws {
        let parity = try SmolParity.load()
        let model = try loadModel(Fixtures.smolLM2Path, activations: precision)
        var report: [String] = []
        for prompt in parity.prompts {
            let cache = try model.makeCache(capacity: prompt.ids.count + parity.n_greedy)
            var logits: Logits
            if mode == "prefill" {
                logits = try model.forward(prompt.ids, cache: cache, logits: .last)
            } else {
                logits = try model.forward([prompt.ids[0]], cache: cache, logits: .last)
                for id in prompt.ids.dropFirst() { logits = try model.forward([id], cache: cache, logits: .last) }
            }
            var generated: [Int] = []
            for step in 0..<prompt.greedy_ids.count {
                let id = argmax(logits.row(0))
                generated.append(id)
                if step + 1 < prompt.greedy_ids.count { logits = try model.forward([id], cache: cache, logits: .last) }
            }
            let same = zip(generated, prompt.greedy_ids).prefix { $0 == $1 }.count
            report.append("\(prompt.name) \(same)/\(prompt.greedy_ids.count)")
            if precision == .int16 {
                #expect(generated == prompt.greedy_ids, "\(prompt.name) (\(mode)): \(generated) vs \(prompt.greedy_ids)")
            }
        }
        print("SmolLM2 \(precision) greedy (\(mode)), tokens equal to transformers before the first difference: \(report.joined(separator: ", "))")
    }
}

/// KL(P ‖ Q) in nats for the softmax distributions of two logit rows, in Double.
func klDivergence(_ p: ArraySlice<Float>, _ q: ArraySlice<Float>) -> Double {
    func logSoftmax(_ row: ArraySlice<Float>) -> [Double] {
        let values = row.map(Double.init)
        let top = values.max()!
        let logSum = top + log(values.reduce(0) { $0 + exp($1 - top) })
        return values.map { $0 - logSum }
    }
    let lp = logSoftmax(p), lq = logSoftmax(q)
    var kl = 0.0
    for i in lp.indices { kl += exp(lp[i]) * (lp[i] - lq[i]) }
    return kl
}
