/// Token sampling settings (llama.cpp names and defaults).
public struct SamplingParameters: Sendable, Equatable {
    /// 0 = greedy (argmax).
    public var temperature: Float = 0.8
    /// 0 = off.
    public var topK: Int = 40
    /// 1 = off; must be in (0, 1].
    public var topP: Float = 0.95
    /// 0 = off; must be in [0, 1].
    public var minP: Float = 0.05
    /// 1 = off; must be > 0.
    public var repetitionPenalty: Float = 1.0
    /// History window for all penalties: 0 = no penalties, -1 = the whole history.
    public var repetitionLastN: Int = 64
    /// OpenAI semantics: logit -= presencePenalty once if the id occurs in the window.
    public var presencePenalty: Float = 0
    /// OpenAI semantics: logit -= frequencyPenalty × occurrences in the window.
    public var frequencyPenalty: Float = 0
    /// nil = a fresh random seed per Sampler.
    public var seed: UInt64?

    public init(temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
                repetitionPenalty: Float = 1.0, repetitionLastN: Int = 64,
                presencePenalty: Float = 0, frequencyPenalty: Float = 0, seed: UInt64? = nil) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.repetitionLastN = repetitionLastN
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.seed = seed
    }

    /// Argmax decoding without penalties.
    public static let greedy = SamplingParameters(temperature: 0, topK: 0, topP: 1, minP: 0)

    /// Throws the first invalid setting.
    public func validate() throws(SamplingParametersError) {
        func bad(_ name: String, _ why: String) -> SamplingParametersError {
            SamplingParametersError(parameter: name, message: why)
        }
        guard temperature.isFinite, temperature >= 0 else {
            throw bad("temperature", "temperature must be a finite number ≥ 0 (0 = greedy), got \(temperature)")
        }
        guard topK >= 0 else { throw bad("topK", "top-k must be ≥ 0 (0 = off), got \(topK)") }
        guard topP > 0, topP <= 1 else { throw bad("topP", "top-p must be in (0, 1] (1 = off), got \(topP)") }
        guard minP >= 0, minP <= 1 else { throw bad("minP", "min-p must be in [0, 1] (0 = off), got \(minP)") }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else {
            throw bad("repetitionPenalty", "repetition penalty must be a finite number > 0 (1 = off), got \(repetitionPenalty)")
        }
        guard repetitionLastN >= -1 else {
            throw bad("repetitionLastN", "repetition window must be ≥ -1 (-1 = whole history, 0 = off), got \(repetitionLastN)")
        }
        guard presencePenalty.isFinite else {
            throw bad("presencePenalty", "presence penalty must be finite, got \(presencePenalty)")
        }
        guard frequencyPenalty.isFinite else {
            throw bad("frequencyPenalty", "frequency penalty must be finite, got \(frequencyPenalty)")
        }
    }
}

/// An invalid sampling setting: which parameter, and a sentence saying the allowed range.
public struct SamplingParametersError: Error, Equatable, CustomStringConvertible {
    public let parameter: String
    public let message: String

    public init(parameter: String, message: String) {
        self.parameter = parameter
        self.message = message
    }

    public var description: String { message }
}
