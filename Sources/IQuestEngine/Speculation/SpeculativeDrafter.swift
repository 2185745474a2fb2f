/// One request's drafting: what to propose before a step and what to learn after it.
struct SpeculativeDrafter {
    let options: SpeculativeOptions
    private var controller = DraftLengthController()

    init(options: SpeculativeOptions) {
        self.options = options
    }

    var isOn: Bool { options.mode != .off }

    /// Drafts to verify after `tokens` (prompt + output, the last one not yet in the cache), at
    /// most `room`; empty when drafting is off, the controller expects no gain, or fewer than
    /// `draftMin` tokens can be proposed.
    mutating func propose(after tokens: [Int], room: Int) -> [Int] {
        guard isOn, room > 0 else { return [] }
        let wanted = min(room, options.adaptive ? controller.length(maximum: options.draftMax) : options.draftMax)
        guard wanted >= options.draftMin else {
            controller.idle()
            return []
        }
        let draft: [Int]
        switch options.mode {
        case .off: draft = []
        case .ngram: draft = NGramDrafter.draft(tokens, count: wanted, ngramMax: options.ngramMax, ngramMin: options.ngramMin)
        }
        if draft.count < options.draftMin {
            controller.idle()
            return []
        }
        return draft
    }

    mutating func record(drafted: Int, accepted: Int) {
        controller.record(drafted: drafted, accepted: accepted)
    }
}
