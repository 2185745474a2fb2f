import Foundation
import IQuestTemplates
import IQuestTokenizer

/// One chat turn.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// Turns chat messages into the prompt text a model was trained on: the checkpoint's own Jinja
/// chat template when it ships one (GGUF `tokenizer.chat_template`, or `chat_template` in an HF
/// directory's tokenizer_config.json / chat_template.jinja), rendered as transformers'
/// `apply_chat_template` does; plain ChatML when it ships none.
public struct ChatFormat: @unchecked Sendable {
    /// The template source, nil for the ChatML fallback.
    public let template: String?
    private let compiled: Result<ChatTemplate, any Error>?
    private let specialTokens: [String: String]
    /// `<|im_end|>`'s id when the vocabulary has it: a turn ends there even if EOS differs.
    public let endOfTurnTokenId: Int?

    /// Compiles `template`. A template this engine cannot parse does not stop the model from
    /// loading; rendering then throws the parse error, which names the line.
    public init(template: String?, tokenizer: any Tokenizer) {
        self.template = template
        compiled = template.map { source in Result { try ChatTemplate(source: source) } }
        var tokens: [String: String] = [:]
        if let bos = tokenizer.bosTokenId, let text = tokenizer.piece(for: bos) { tokens["bos_token"] = text }
        if let eos = tokenizer.eosTokenIds.first, let text = tokenizer.piece(for: eos) { tokens["eos_token"] = text }
        specialTokens = tokens
        endOfTurnTokenId = tokenizer.tokenId(for: "<|im_end|>")
    }

    /// The prompt for `messages`, by default followed by the opening of the assistant's turn.
    /// `options` are extra template variables (e.g. `enable_thinking`).
    public func prompt(for messages: [ChatMessage], addGenerationPrompt: Bool = true,
                       options: [String: TemplateValue] = [:]) throws -> String {
        guard let compiled = try compiled?.get() else {
            var out = ""
            for m in messages { out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
            return out
        }
        let values: [TemplateValue] = messages.map { m in
            ["role": .string(m.role), "content": .string(m.content)] as TemplateValue
        }
        return try compiled.apply(messages: values, addGenerationPrompt: addGenerationPrompt,
                                  specialTokens: specialTokens, kwargs: options)
    }

    /// Renders raw JSON-shaped messages/tools (as the `template` command and the server take them).
    public func render(messages: [TemplateValue], tools: [TemplateValue]?, addGenerationPrompt: Bool,
                       options: [String: TemplateValue] = [:]) throws -> String {
        guard let compiled = try compiled?.get() else {
            throw LoadError("this model ships no chat template; only plain messages can be rendered (as ChatML)")
        }
        return try compiled.apply(messages: messages, tools: tools, addGenerationPrompt: addGenerationPrompt,
                                  specialTokens: specialTokens, kwargs: options)
    }
}
