// Finds literal tags in a stream of Unicode scalars that arrives in arbitrary pieces. A possible
// tag start is held back until the next scalars confirm or refute it, so no piece of a tag ever
// reaches the text. Working on scalars, not Characters, keeps the result independent of where a
// feed was split (a combining mark after `>` would otherwise fuse with it into one Character).

/// The tags the parsers recognize. Each starts with `<` and has no other `<`, which lets a refuted
/// partial tag be released as text in one go (no tag can start inside it).
enum Tag: CaseIterable {
    case thinkOpen, thinkClose, toolCallOpen, toolCallClose

    var scalars: [Unicode.Scalar] {
        switch self {
        case .thinkOpen: Tag.thinkOpenScalars
        case .thinkClose: Tag.thinkCloseScalars
        case .toolCallOpen: Tag.toolCallOpenScalars
        case .toolCallClose: Tag.toolCallCloseScalars
        }
    }

    private static let thinkOpenScalars = Array("<think>".unicodeScalars)
    private static let thinkCloseScalars = Array("</think>".unicodeScalars)
    private static let toolCallOpenScalars = Array("<tool_call>".unicodeScalars)
    private static let toolCallCloseScalars = Array("</tool_call>".unicodeScalars)
}

struct TagMatcher: Sendable {
    enum Step: Equatable {
        /// The new scalar is plain text (the common case, kept allocation-free).
        case scalar(Unicode.Scalar)
        /// Scalars that are plain text (a refuted partial tag, then possibly the new scalar).
        case text([Unicode.Scalar])
        /// The scalar extended a possible tag; nothing to release yet.
        case held
        case tag(Tag)
    }

    /// The scalars of a tag that may still complete; empty or starting with `<`.
    private(set) var partial: [Unicode.Scalar] = []

    /// Feeds one scalar, matching against `active` (the caller may change the set between calls).
    mutating func push(_ scalar: Unicode.Scalar, active: [Tag]) -> Step {
        if partial.isEmpty {
            guard scalar == "<" else { return .scalar(scalar) }
            partial = [scalar]
            return active.isEmpty ? release() : .held
        }
        partial.append(scalar)
        var isPrefix = false
        for tag in active {
            let tagScalars = tag.scalars
            guard partial.count <= tagScalars.count, tagScalars.starts(with: partial) else { continue }
            if partial.count == tagScalars.count {
                partial = []
                return .tag(tag)
            }
            isPrefix = true
        }
        if isPrefix { return .held }
        // Refuted: everything but a trailing `<` is text; that `<` may open a new tag.
        if scalar == "<" {
            let text = Array(partial.dropLast())
            partial = [scalar]
            return .text(text)
        }
        return release()
    }

    /// Gives up the partial tag as text (end of generation, or no tags active).
    mutating func release() -> Step {
        let text = partial
        partial = []
        return .text(text)
    }
}
