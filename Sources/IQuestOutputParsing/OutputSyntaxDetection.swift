// Chooses the parsers from the checkpoint's own chat template, so a server needs no per-model
// flags (spec §6: "chosen from the template or a flag"). Templates write their tags as literal
// strings, so a substring test on the template source is enough.

public enum OutputSyntaxDetection {
    /// Qwen3-Coder XML if the template renders `<function=` / `<parameter=` (those templates also
    /// mention `<tool_call>`, so they are checked first), Hermes if it has `<tool_call>`, else nil.
    public static func toolSyntax(chatTemplate: String?) -> ToolCallSyntax? {
        guard let template = chatTemplate else { return nil }
        if template.contains("<function=") || template.contains("<parameter=") { return .qwen3Coder }
        if template.contains("<tool_call>") { return .hermes }
        return nil
    }

    /// Whether the template knows think tags (renders or strips `<think>` / `</think>`).
    public static func usesThinkTags(chatTemplate: String?) -> Bool {
        guard let template = chatTemplate else { return false }
        return template.contains("<think>") || template.contains("</think>")
    }

    /// Whether the rendered prompt ends inside an open `<think>`: its last non-whitespace text is
    /// `<think>` (DeepSeek-R1, QwQ, Qwen3 thinking-2507 templates end with `<think>\n`). Only the
    /// tail counts, so a `<think>` quoted earlier in a message cannot switch reasoning on, and the
    /// closed `<think>\n\n</think>\n\n` that Qwen3 writes for enable_thinking=false reads as not open.
    public static func promptOpensReasoning(_ prompt: String) -> Bool {
        var tail = prompt.unicodeScalars[...]
        while let last = tail.last, last.properties.isWhitespace { tail = tail.dropLast() }
        let opener = Tag.thinkOpen.scalars
        return tail.suffix(opener.count).elementsEqual(opener)
    }
}
