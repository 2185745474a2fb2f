import Foundation

/// Render-time settings that are not template variables.
public struct RenderOptions: Sendable {
    /// The instant `strftime_now` formats (transformers uses `datetime.now()`, a naive local time).
    public var now: Date
    /// Zone in which `now` is broken into date and time fields.
    public var timeZone: TimeZone

    public init(now: Date = Date(), timeZone: TimeZone = .current) {
        self.now = now
        self.timeZone = timeZone
    }
}

/// A parsed Jinja chat template, rendered as transformers' `apply_chat_template` renders it with jinja2
/// (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, `{% generation %}`,
/// transformers' `tojson`, `raise_exception`, `strftime_now`).
///
/// Unsupported syntax and template errors are thrown as `TemplateError`, never rendered approximately.
public struct ChatTemplate: @unchecked Sendable {
    // The tree is immutable after parsing; literals in it are plain values, so sharing across threads is safe.
    private let nodes: [Node]
    public let source: String

    public init(source: String) throws {
        self.source = source
        let lexer = Lexer(source)
        let pieces = try lexer.tokenize()
        let endPos = lexer.endPosition
        var parser = Parser(pieces: pieces, endOfSource: endPos)
        nodes = try parser.parseTemplate()
        try NameCheck.nodes(nodes, soft: false)
    }

    /// Renders with exactly these variables (plus jinja2's and transformers' globals).
    public func render(context: [String: TemplateValue], options: RenderOptions = RenderOptions()) throws -> String {
        var ctx: [String: Value] = [:]
        for (k, v) in context where v != .undefined { ctx[k] = Value(v) }
        let interp = Interpreter(env: RenderEnvironment(now: options.now, timeZone: options.timeZone), context: ctx)
        return try interp.render(nodes)
    }

    /// Renders a conversation the way `tokenizer.apply_chat_template(messages, tools=..., documents=...,
    /// add_generation_prompt=..., tokenize=False, **kwargs)` does: None-valued message keys are dropped,
    /// reasoning is aliased under `reasoning_content` and `thinking`, `tools`/`documents` are None when absent,
    /// and the special tokens come before `kwargs` (kwargs win).
    public func apply(messages: [TemplateValue],
                      tools: [TemplateValue]? = nil,
                      documents: [TemplateValue]? = nil,
                      addGenerationPrompt: Bool = false,
                      specialTokens: [String: String] = [:],
                      kwargs: [String: TemplateValue] = [:],
                      options: RenderOptions = RenderOptions()) throws -> String {
        var ctx: [String: TemplateValue] = [:]
        for (k, v) in specialTokens { ctx[k] = .string(v) }
        for (k, v) in kwargs { ctx[k] = v }
        ctx["messages"] = .array(try messages.map(ChatTemplate.normalizeMessage))
        ctx["tools"] = tools.map { .array($0) } ?? TemplateValue.none
        ctx["documents"] = documents.map { .array($0) } ?? TemplateValue.none
        ctx["add_generation_prompt"] = .bool(addGenerationPrompt)
        return try render(context: ctx, options: options)
    }

    /// transformers' `_normalize_chat_messages` + `_alias_reasoning_fields` for one message.
    static func normalizeMessage(_ m: TemplateValue) throws -> TemplateValue {
        guard case .dictionary(let d) = m else {
            throw TemplateError(kind: .type, message: "Chat messages should be dicts, but got \(m)")
        }
        var kept = TemplateDictionary()
        for (k, v) in d.pairs where v != .none && v != .undefined { kept[k] = v }
        guard let reasoning = ["reasoning_content", "thinking", "reasoning"].lazy.compactMap({ kept[$0] }).first else {
            return .dictionary(kept)
        }
        // Python: {"thinking": r, **message, "reasoning_content": r}; existing keys keep their positions.
        var out = TemplateDictionary()
        out["thinking"] = reasoning
        for (k, v) in kept.pairs { out[k] = v }
        out["reasoning_content"] = reasoning
        return .dictionary(out)
    }
}
