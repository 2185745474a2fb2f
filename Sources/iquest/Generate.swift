import ArgumentParser
import Foundation
import IQuestConstraints
import IQuestEngine

struct SamplingOptions: ParsableArguments {
    @Option(help: "Sampling temperature; 0 means greedy.")
    var temperature: Float = 0.8
    @Option(help: "Keep the K most likely tokens (0 = off).")
    var topK: Int = 40
    @Option(help: "Keep the smallest set of tokens whose probability reaches P (1 = off).")
    var topP: Float = 0.95
    @Option(help: "Drop tokens less likely than P × the most likely one (0 = off).")
    var minP: Float = 0.05
    @Option(help: "Penalty for tokens among the last 64 (1 = off).")
    var repeatPenalty: Float = 1.0
    @Option(help: "Random seed; the same seed gives the same output.")
    var seed: UInt64?

    var parameters: SamplingParameters {
        SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                           repetitionPenalty: repeatPenalty, seed: seed)
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Complete a prompt, streaming the text to stdout and speed to stderr.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var kvCache: KVCacheOptions
    @OptionGroup var kernelOptions: KernelOptions
    @OptionGroup var speculation: SpeculativeCLIOptions

    @Option(name: .shortAndLong, help: "Prompt text (used raw unless --chat).")
    var prompt: String?
    @Option(help: "Comma-separated token ids to use as the prompt instead of text.")
    var promptIds: String?
    @Flag(help: "Wrap the prompt as one user turn in the model's chat format.")
    var chat = false
    @Option(name: [.customShort("n"), .long], help: "Most tokens to generate.")
    var maxTokens: Int = 256
    @Option(help: "Stop when the output contains this text (repeatable).")
    var stop: [String] = []
    @Option(help: "Context size in tokens (default: the model's).")
    var ctxSize: Int?
    @Flag(help: "Print one JSON object per token, then a summary object.")
    var json = false
    @Option(help: "With --json: alternatives per token with their log-probabilities.")
    var topLogprobs: Int = 0
    @Option(help: "Constrain the output to this JSON Schema file (structured outputs; compare decode tokens/s with and without it: tools/constraint_decode_bench.py).")
    var jsonSchema: String?
    @Flag(help: "With --json-schema: decode the schema's forced runs (fixed keys, punctuation) one forward per token instead of verifying each run in one forward (same output; for comparing speed).")
    var noForcedRuns = false

    func validate() throws {
        if (prompt == nil) == (promptIds == nil) { throw ValidationError("give exactly one of --prompt or --prompt-ids") }
        if maxTokens < 0 { throw ValidationError("--max-tokens must not be negative") }
        if topLogprobs < 0 { throw ValidationError("--top-logprobs must not be negative") }
        if let ctxSize, ctxSize < 1 { throw ValidationError("--ctx-size must be positive") }
    }

    func run() throws {
        try failingCleanly {
            try sampling.parameters.validate()
            let loaded = try LoadedModel.load(path: modelOptions.model, threads: modelOptions.threads,
                                              activations: modelOptions.activations, progress: printError)
            let ids = try promptTokens(loaded)
            var generator = Generator(loaded: loaded, plan: try sequencePlan(loaded.model, types: kvCache.types, context: ctxSize))
            generator.draftModel = try speculation.loadDraft(for: loaded, threads: modelOptions.threads,
                                                             activations: modelOptions.activations)
            var request = GenerationRequest(promptIds: ids, sampling: sampling.parameters, maxTokens: maxTokens,
                                            stopStrings: stop, logprobs: json, topLogprobs: topLogprobs)
            request.speculative = speculation.options
            if let jsonSchema { request.constraint = try schemaConstraint(jsonSchema, loaded) }
            request.forcedRuns = noForcedRuns ? .off : .adaptive
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let stats = try generator.generate(request) { token in
                if json {
                    let line = TokenLine(id: token.id, text: token.text, logprob: Double(token.logprob ?? 0),
                                         top_logprobs: token.topLogprobs.map { .init(id: $0.id, logprob: Double($0.logprob)) })
                    if let data = try? encoder.encode(line) { StandardOutput.write(String(decoding: data, as: UTF8.self) + "\n") }
                } else {
                    StandardOutput.write(token.text)
                }
                return true
            }
            if json {
                let done = DoneLine(done: true, prompt_ids: ids, prefill_tps: stats.prefillTokensPerSecond,
                                    decode_tps: stats.decodeTokensPerSecond, finish_reason: stats.finishReason.rawValue,
                                    generated_tokens: stats.generatedTokens, drafted_tokens: stats.draftedTokens,
                                    accepted_tokens: stats.acceptedTokens, forced_tokens: stats.forcedTokens,
                                    forced_accepted: stats.forcedAccepted, forwards: stats.forwards)
                let data = try encoder.encode(done)
                StandardOutput.write(String(decoding: data, as: UTF8.self) + "\n")
            } else {
                StandardOutput.write("\n")
            }
            printError(statsLine(stats))
        }
    }

    private func schemaConstraint(_ path: String, _ loaded: LoadedModel) throws -> OutputConstraint {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("--json-schema: cannot read \(path)") }
        let schema: JSONValue
        do { schema = try JSONValue.parse(Array(data)) } catch { throw ValidationError("--json-schema: \(path) is not JSON: \(error)") }
        do {
            return OutputConstraint(grammar: try JSONSchemaCompiler.grammar(for: schema),
                                    vocabulary: TokenVocabulary(tokenizer: loaded.tokenizer, stopIds: Array(loaded.stopTokenIds).sorted()))
        } catch {
            throw ValidationError("--json-schema: \(error)")
        }
    }

    private func promptTokens(_ loaded: LoadedModel) throws -> [Int] {
        if let promptIds {
            return try parseTokenIds(Substring(promptIds))
        }
        let text = prompt ?? ""
        if chat {
            let rendered = try loaded.chatFormat.prompt(for: [ChatMessage(role: "user", content: text)])
            return loaded.tokenizer.encode(rendered, addSpecialTokens: true, parseSpecial: true)
        }
        return loaded.tokenizer.encode(text, addSpecialTokens: true, parseSpecial: false)
    }
}

/// Parses "1,2,3" (spaces allowed; or ids separated as `separator` says) into token ids; errors
/// name `option`.
func parseTokenIds(_ text: Substring, option: String = "--prompt-ids",
                   separator: (Character) -> Bool = { $0 == "," }) throws -> [Int] {
    try text.split(whereSeparator: separator).map { part in
        let trimmed = part.trimmingCharacters(in: .whitespaces)
        guard let id = Int(trimmed), id >= 0 else {
            throw ValidationError("\(option): '\(trimmed)' is not a token id")
        }
        return id
    }
}

func statsLine(_ s: GenerationStats) -> String {
    String(format: "prompt %d tokens, prefill %.1f tokens/s | generated %d tokens, decode %.1f tokens/s | finish: %@",
           s.promptTokens, s.prefillTokensPerSecond, s.generatedTokens, s.decodeTokensPerSecond, s.finishReason.rawValue)
        + speculativeSummary(s)
        + (s.forcedTokens > 0 ? String(format: " | forced runs: %d tokens fed, %d confirmed (forwards saved)", s.forcedTokens, s.forcedAccepted) : "")
}

struct TokenLine: Encodable {
    struct Alternative: Encodable { let id: Int; let logprob: Double }
    let id: Int
    let text: String
    let logprob: Double
    let top_logprobs: [Alternative]
}

struct DoneLine: Encodable {
    let done: Bool
    let prompt_ids: [Int]
    let prefill_tps: Double
    let decode_tps: Double
    let finish_reason: String
    let generated_tokens: Int
    let drafted_tokens: Int
    let accepted_tokens: Int
    let forced_tokens: Int
    let forced_accepted: Int
    let forwards: Int
}
