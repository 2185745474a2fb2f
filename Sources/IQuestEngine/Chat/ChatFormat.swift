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

/// Turns chat messages into the prompt text a model was trained on. Until the Jinja engine
/// renders checkpoints' own templates, this is ChatML — the format of SmolLM2 and IQuest-Coder:
/// `<|im_start|>{role}\n{content}<|im_end|>\n` per message, then `<|im_start|>assistant\n`.
public struct ChatFormat: Sendable {
    /// The template text the checkpoint ships, kept for reporting.
    public let template: String?
    /// `<|im_end|>`'s id when the vocabulary has it: a turn ends there even if EOS differs.
    public let endOfTurnTokenId: Int?

    public init(template: String?, tokenizer: any Tokenizer) {
        self.template = template
        endOfTurnTokenId = tokenizer.tokenId(for: "<|im_end|>")
    }

    /// The prompt for `messages` followed by the opening of the assistant's turn.
    public func prompt(for messages: [ChatMessage]) -> String {
        var out = ""
        for m in messages {
            out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n"
        }
        out += "<|im_start|>assistant\n"
        return out
    }
}
