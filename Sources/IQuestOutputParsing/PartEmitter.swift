// Writes the text of the current part (content or reasoning) with the whitespace rules applied at
// tag boundaries:
// - trailing whitespace right before a recognized tag is dropped (held until the next scalar says
//   whether a tag or more text follows);
// - leading newlines right after `<think>` / `</think>` are dropped (the `\n` templates put there;
//   spaces are kept so indented code survives);
// - leading whitespace right after a recovered tool call is dropped, so whitespace between and
//   after calls disappears.
// The rules depend only on the scalar sequence, never on how it was split into feeds.

struct PartEmitter: Sendable {
    enum LeadingTrim: Sendable { case none, newlines, whitespace }

    private(set) var isReasoning: Bool
    private var leadingTrim: LeadingTrim
    /// Whitespace after the last non-whitespace scalar of this part, not yet written.
    private var pendingWhitespace: [Unicode.Scalar] = []
    /// Whether this part has had nothing but whitespace; a repeated `<think>` is swallowed only
    /// while the reasoning is still empty.
    private(set) var isEmpty = true

    init(reasoning: Bool, leadingTrim: LeadingTrim) {
        isReasoning = reasoning
        self.leadingTrim = leadingTrim
    }

    mutating func write<S: Sequence<Unicode.Scalar>>(_ scalars: S, into out: inout DeltaBuilder) {
        for scalar in scalars {
            if Self.isTrimmed(scalar, by: leadingTrim) { continue }
            leadingTrim = .none
            if scalar.properties.isWhitespace {
                pendingWhitespace.append(scalar)
            } else {
                isEmpty = false
                out.appendText(pendingWhitespace, reasoning: isReasoning)
                pendingWhitespace.removeAll(keepingCapacity: true)
                out.appendText(CollectionOfOne(scalar), reasoning: isReasoning)
            }
        }
    }

    /// A tag ends this part: its trailing whitespace is dropped. A following part of a possibly
    /// different kind starts with `leadingTrim`.
    mutating func startPart(reasoning: Bool, leadingTrim: LeadingTrim) {
        pendingWhitespace = []
        isReasoning = reasoning
        self.leadingTrim = leadingTrim
        isEmpty = true
    }

    /// Tool calls recovered inside this part: whitespace around them goes, the part continues.
    mutating func writeCalls(_ calls: [ParsedToolCall], into out: inout DeltaBuilder) {
        pendingWhitespace = []
        for call in calls { out.append(call) }
        leadingTrim = .whitespace
        isEmpty = false
    }

    /// End of generation: held whitespace was not before a tag, so it is text.
    mutating func flush(into out: inout DeltaBuilder) {
        out.appendText(pendingWhitespace, reasoning: isReasoning)
        pendingWhitespace = []
    }

    private static func isTrimmed(_ scalar: Unicode.Scalar, by trim: LeadingTrim) -> Bool {
        switch trim {
        case .none: false
        case .newlines: scalar == "\n" || scalar == "\r"
        case .whitespace: scalar.properties.isWhitespace
        }
    }
}
