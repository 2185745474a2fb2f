import IQuestTemplates

/// Typed, validating access to one JSON object of a request. Absent and `null` fields read as nil;
/// a present field of the wrong type is a 400 naming the field (`param`), as OpenAI answers.
struct JSONObject {
    let fields: TemplateDictionary
    /// Dotted path of this object inside the request, for error messages (`messages[2]`).
    let path: String

    init(_ value: TemplateValue, path: String) throws(OpenAIError) {
        guard case .dictionary(let d) = value else {
            throw .invalid(path.isEmpty ? "the request body must be a JSON object" : "'\(path)' must be an object",
                           param: path.isEmpty ? nil : path)
        }
        fields = d
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func value(_ key: String) -> TemplateValue? {
        switch fields[key] {
        case nil, .none?, .undefined?: return nil
        case let v?: return v
        }
    }

    func string(_ key: String) throws(OpenAIError) -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw .invalid("'\(name(key))' must be a string", param: name(key)) }
        return s
    }

    func bool(_ key: String) throws(OpenAIError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw .invalid("'\(name(key))' must be a boolean", param: name(key)) }
        return b
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(OpenAIError) -> Int? {
        guard let v = value(key) else { return nil }
        let n: Int
        switch v {
        case .int(let i): n = i
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: n = Int(d)
        default: throw .invalid("'\(name(key))' must be an integer", param: name(key))
        }
        guard range.contains(n) else {
            throw .invalid("'\(name(key))' must be between \(range.lowerBound) and \(range.upperBound), got \(n)", param: name(key))
        }
        return n
    }

    func number(_ key: String, in range: ClosedRange<Double>) throws(OpenAIError) -> Double? {
        guard let v = value(key) else { return nil }
        let d: Double
        switch v {
        case .int(let i): d = Double(i)
        case .double(let x): d = x
        default: throw .invalid("'\(name(key))' must be a number", param: name(key))
        }
        guard d.isFinite, range.contains(d) else {
            throw .invalid("'\(name(key))' must be between \(range.lowerBound) and \(range.upperBound), got \(d)", param: name(key))
        }
        return d
    }

    func array(_ key: String) throws(OpenAIError) -> [TemplateValue]? {
        guard let v = value(key) else { return nil }
        guard case .array(let a) = v else { throw .invalid("'\(name(key))' must be an array", param: name(key)) }
        return a
    }

    func object(_ key: String) throws(OpenAIError) -> JSONObject? {
        guard let v = value(key) else { return nil }
        return try JSONObject(v, path: name(key))
    }

    /// `stop`: a string or an array of at most 4 strings (OpenAI's limit is lifted to 16 here).
    func stringOrStrings(_ key: String, limit: Int) throws(OpenAIError) -> [String] {
        guard let v = value(key) else { return [] }
        switch v {
        case .string(let s): return s.isEmpty ? [] : [s]
        case .array(let items):
            guard items.count <= limit else {
                throw .invalid("'\(name(key))' takes at most \(limit) strings", param: name(key))
            }
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item else {
                    throw .invalid("'\(name(key))' must be a string or an array of strings", param: name(key))
                }
                if !s.isEmpty { out.append(s) }
            }
            return out
        default:
            throw .invalid("'\(name(key))' must be a string or an array of strings", param: name(key))
        }
    }
}
