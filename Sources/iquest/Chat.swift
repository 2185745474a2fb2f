import ArgumentParser
import Foundation
import IQuestEngine

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Interactive multi-turn chat. /clear starts over, /exit quits.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var kvCache: KVCacheOptions
    @OptionGroup var kernelOptions: KernelOptions
    @OptionGroup var speculation: SpeculativeCLIOptions
    @Option(help: "System prompt for the conversation.")
    var system: String?
    @Option(name: [.customShort("n"), .long], help: "Most tokens per answer.")
    var maxTokens: Int = 1024
    @Option(help: "Context size in tokens (default: the model's).")
    var ctxSize: Int?

    func run() throws {
        try failingCleanly {
            try sampling.parameters.validate()
            let loaded = try LoadedModel.load(path: modelOptions.model, threads: modelOptions.threads,
                                              activations: modelOptions.activations, progress: printError)
            var generator = Generator(loaded: loaded, plan: try sequencePlan(loaded.model, types: kvCache.types, context: ctxSize))
            generator.draftModel = try speculation.loadDraft(for: loaded, threads: modelOptions.threads,
                                                             activations: modelOptions.activations)
            let initial = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
            var messages = initial
            printError("chatting with \(loaded.name); /clear starts over, /exit quits")
            while true {
                StandardOutput.write("> ")
                guard let line = readLine(strippingNewline: true) else { break }
                let input = line.trimmingCharacters(in: .whitespaces)
                if input.isEmpty { continue }
                if input == "/exit" || input == "/quit" { break }
                if input == "/clear" {
                    messages = initial
                    printError("(conversation cleared)")
                    continue
                }
                messages.append(ChatMessage(role: "user", content: line))
                var answer = ""
                do {
                    let prompt = try loaded.chatFormat.prompt(for: messages)
                    let ids = loaded.tokenizer.encode(prompt, addSpecialTokens: true, parseSpecial: true)
                    var request = GenerationRequest(promptIds: ids, sampling: sampling.parameters, maxTokens: maxTokens)
                    request.speculative = speculation.options
                    let stats = try generator.generate(request) { token in
                        answer += token.text
                        StandardOutput.write(token.text)
                        return true
                    }
                    StandardOutput.write("\n")
                    printError(statsLine(stats))
                    messages.append(ChatMessage(role: "assistant", content: answer))
                } catch {
                    // The conversation stays usable: drop the turn that failed (e.g. context full).
                    messages.removeLast()
                    printError("error: \(error)")
                }
            }
        }
    }
}
