/// Why a constraint could not be compiled. The server turns every case into a 400 whose message
/// is `description`.
public enum ConstraintError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A JSON Schema keyword (or keyword value) the engine cannot enforce exactly, with the JSON
    /// pointer of the schema that holds it. Never relaxed silently.
    case unsupportedKeyword(keyword: String, pointer: String, reason: String)
    /// A schema that is not valid JSON Schema (wrong value type for a keyword, bad $ref, …).
    case invalidSchema(pointer: String, reason: String)
    case regex(pattern: String, reason: String)
    case grammar(String)
    case json(String)

    public var description: String {
        switch self {
        case .unsupportedKeyword(let k, let p, let reason):
            return "JSON Schema keyword '\(k)' at '\(p.isEmpty ? "#" : "#" + p)' is not supported: \(reason)"
        case .invalidSchema(let p, let reason):
            return "invalid JSON Schema at '\(p.isEmpty ? "#" : "#" + p)': \(reason)"
        case .regex(let pattern, let reason):
            return "regular expression '\(pattern)' is not supported: \(reason)"
        case .grammar(let m):
            return "grammar error: \(m)"
        case .json(let m):
            return "invalid JSON: \(m)"
        }
    }
}
