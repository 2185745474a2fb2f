import ArgumentParser
import IQuestEngine
import IQuestKernels

/// `--speculative` and its knobs (generate, chat, serve). Drafts change speed, never the output.
struct SpeculativeCLIOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Speculative decoding: ngram drafts the tokens that followed the latest earlier occurrence of the last few tokens (prompt lookup: fast on edits that copy their input), draft lets --model-draft propose them, off decodes one token per forward. Greedy output is the same either way; sampled output keeps its distribution (ngram: the same tokens for a seed).",
                               valueName: "ngram|draft|off"))
    var speculative: SpeculativeMode?
    @Option(help: "A smaller model with the same tokenizer that drafts tokens (implies --speculative draft; generate, chat and serve).")
    var modelDraft: String?
    @Option(help: "Most tokens drafted per step (1…\(SpeculativeOptions.draftLimit)).")
    var draftMax: Int = 8
    @Option(help: "Draft nothing when fewer tokens than this can be proposed.")
    var draftMin: Int = 1
    @Option(help: "Longest n-gram the prompt lookup matches.")
    var ngramMax: Int = 4
    @Option(help: "Shortest n-gram the prompt lookup matches.")
    var ngramMin: Int = 2
    @Flag(help: "Draft --draft-max tokens whenever possible instead of adapting the length to recent acceptance.")
    var draftFixed = false

    var options: SpeculativeOptions {
        SpeculativeOptions(mode: speculative ?? (modelDraft == nil ? .off : .draft), draftMax: draftMax, draftMin: draftMin, ngramMax: ngramMax, ngramMin: ngramMin,
                           adaptive: !draftFixed)
    }

    func validate() throws {
        do { try options.validate() } catch { throw ValidationError("\(error)") }
        if options.mode == .draft && modelDraft == nil { throw ValidationError("--speculative draft needs --model-draft PATH") }
        if modelDraft != nil && options.mode != .draft { throw ValidationError("--model-draft drafts only with --speculative draft") }
    }

    /// Loads --model-draft and checks that it can draft for `target`.
    func loadDraft(for target: LoadedModel, threads: Int, activations: ActivationPrecision) throws -> LoadedModel? {
        guard let modelDraft else { return nil }
        let draft = try LoadedModel.load(path: modelDraft, threads: threads, activations: activations, progress: printError)
        if let reason = DraftModelCheck.refusal(target: target, draft: draft) {
            throw GenerationError("--model-draft \(modelDraft): \(reason)")
        }
        return draft
    }
}

extension SpeculativeMode: ExpressibleByArgument {}

/// The speculative part of a stats line, empty when nothing was drafted.
func speculativeSummary(_ s: GenerationStats) -> String {
    guard s.draftedTokens > 0 else { return "" }
    return String(format: " | drafted %d, accepted %d (%.0f%%), %.2f tokens/forward", s.draftedTokens, s.acceptedTokens,
                  100 * s.acceptanceRate, s.tokensPerForward)
}
