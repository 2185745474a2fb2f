import ArgumentParser
import IQuestEngine

/// `--speculative` and its knobs (generate, chat, serve). Drafts change speed, never the output.
struct SpeculativeCLIOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Speculative decoding: ngram drafts the tokens that followed the latest earlier occurrence of the last few tokens (prompt lookup: fast on edits that copy their input), off decodes one token per forward. The output is the same either way.",
                               valueName: "ngram|off"))
    var speculative: SpeculativeMode = .off
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
        SpeculativeOptions(mode: speculative, draftMax: draftMax, draftMin: draftMin, ngramMax: ngramMax, ngramMin: ngramMin,
                           adaptive: !draftFixed)
    }

    func validate() throws {
        do { try options.validate() } catch { throw ValidationError("\(error)") }
    }
}

extension SpeculativeMode: ExpressibleByArgument {}

/// The speculative part of a stats line, empty when nothing was drafted.
func speculativeSummary(_ s: GenerationStats) -> String {
    guard s.draftedTokens > 0 else { return "" }
    return String(format: " | drafted %d, accepted %d (%.0f%%), %.2f tokens/forward", s.draftedTokens, s.acceptedTokens,
                  100 * s.acceptanceRate, s.tokensPerForward)
}
