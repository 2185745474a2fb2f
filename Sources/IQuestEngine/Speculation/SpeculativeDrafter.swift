/// One request's drafting: what to propose before a step and what to learn after it.
struct SpeculativeDrafter {
    let options: SpeculativeOptions
    private var controller = DraftLengthController()

    init(options: SpeculativeOptions) {
        self.options = options
        // A draft model's tokens cost a forward of their own each, on top of the verify row.
        if options.mode == .draft { controller.rowCost = 0.25 }
    }

    var isOn: Bool { options.mode != .off }

    /// What a drafted token costs relative to a plain step (its verify row, plus the draft
    /// model's forward in draft mode): the caller sets it from measured step times.
    var rowCost: Double {
        get { controller.rowCost }
        set { controller.rowCost = newValue }
    }

    /// Drafts to verify after `tokens` (prompt + output, the last one not yet in the cache), at
    /// most `room`; empty when drafting is off, the controller expects no gain, or fewer than
    /// `draftMin` tokens can be proposed.
    mutating func propose(after tokens: [Int], room: Int) -> [Int] {
        let wanted = length(room: room)
        guard wanted > 0 else { return [] }
        let draft: [Int]
        switch options.mode {
        case .off, .draft: draft = []  // a draft model drafts through `DraftModelRunner`
        case .ngram: draft = NGramDrafter.draft(tokens, count: wanted, ngramMax: options.ngramMax, ngramMin: options.ngramMin)
        }
        if draft.count < options.draftMin {
            controller.idle()
            return []
        }
        return draft
    }

    /// How many tokens to draft now (0: none), from the options and recent acceptance.
    mutating func length(room: Int) -> Int {
        guard isOn, room > 0 else { return 0 }
        let wanted = min(room, options.adaptive ? controller.length(maximum: options.draftMax) : options.draftMax)
        guard wanted >= options.draftMin else {
            controller.idle()
            return 0
        }
        return wanted
    }

    mutating func record(drafted: Int, accepted: Int) {
        controller.record(drafted: drafted, accepted: accepted)
    }
}
