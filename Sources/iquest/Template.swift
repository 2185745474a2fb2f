import ArgumentParser
import Foundation
import IQuestEngine
import IQuestTemplates

/// Prints the prompt a model's own chat template renders for a conversation, as transformers'
/// `apply_chat_template(..., tokenize=False)` would.
struct Template: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render a conversation with the model's chat template.")

    @Option(name: .shortAndLong, help: "Path to a GGUF model file or an HF checkpoint directory.")
    var model: String
    @Option(help: "JSON file with the messages array (OpenAI/transformers shape).")
    var messages: String
    @Option(help: "JSON file with the tools array.")
    var tools: String?
    @Flag(help: "Open the assistant's turn at the end.")
    var addGenerationPrompt = false
    @Option(help: "JSON object of extra template variables, e.g. '{\"enable_thinking\": false}'.")
    var templateKwargs: String?

    func run() throws {
        try failingCleanly {
            let loaded = try LoadedModel.load(path: model, threads: 1, progress: printError)
            let messageValues = try jsonArray(file: messages, what: "--messages")
            let toolValues = try tools.map { try jsonArray(file: $0, what: "--tools") }
            var kwargs: [String: TemplateValue] = [:]
            if let templateKwargs {
                guard case .dictionary(let d) = try TemplateValue(json: templateKwargs) else {
                    throw ValidationError("--template-kwargs must be a JSON object")
                }
                for (k, v) in d.pairs { kwargs[k] = v }
            }
            let text = try loaded.chatFormat.render(messages: messageValues, tools: toolValues,
                                                    addGenerationPrompt: addGenerationPrompt, options: kwargs)
            StandardOutput.write(text)
        }
    }

    private func jsonArray(file: String, what: String) throws -> [TemplateValue] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
            throw ValidationError("\(what): cannot read \(file)")
        }
        let value: TemplateValue
        do { value = try TemplateValue(json: data) } catch {
            throw ValidationError("\(what): \(file) is not valid JSON: \(error)")
        }
        guard case .array(let items) = value else { throw ValidationError("\(what): \(file) must hold a JSON array") }
        return items
    }
}
