import IQuestEngine

/// The `speculative` extension field (chat and text completions): `"ngram"` / `"off"`, or an
/// object `{"mode": "ngram", "draft_max": 8, "draft_min": 1, "ngram_max": 4, "ngram_min": 2,
/// "adaptive": true}` whose missing members take `SpeculativeOptions`' defaults (mode ngram).
/// Absent: the server's `--speculative` setting. Drafts change speed, never the output. Mode
/// draft needs a server started with `--model-draft`; the engine refuses it otherwise (400).
enum SpeculativeField {
    static func parse(_ body: JSONObject) throws(OpenAIError) -> SpeculativeOptions? {
        guard let value = body.value("speculative") else { return nil }
        var options = SpeculativeOptions(mode: .ngram)
        if case .string(let name) = value {
            guard let mode = SpeculativeMode(rawValue: name) else {
                throw .invalid("'speculative' must be one of \(SpeculativeMode.allCases.map(\.rawValue).joined(separator: ", ")) or an object, got '\(name)'", param: "speculative")
            }
            options.mode = mode
        } else {
            guard let object = try body.object("speculative") else { return nil }
            if let name = try object.string("mode") {
                guard let mode = SpeculativeMode(rawValue: name) else {
                    throw .invalid("'speculative.mode' must be one of \(SpeculativeMode.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'", param: "speculative.mode")
                }
                options.mode = mode
            }
            let limit = SpeculativeOptions.draftLimit
            if let n = try object.int("draft_max", in: 1...limit) { options.draftMax = n }
            if let n = try object.int("draft_min", in: 1...limit) { options.draftMin = n }
            if let n = try object.int("ngram_max", in: 1...16) { options.ngramMax = n }
            if let n = try object.int("ngram_min", in: 1...16) { options.ngramMin = n }
            if let adaptive = try object.bool("adaptive") { options.adaptive = adaptive }
        }
        do {
            try options.validate()
        } catch {
            throw .invalid("'speculative': \(error)", param: "speculative")
        }
        return options
    }
}
