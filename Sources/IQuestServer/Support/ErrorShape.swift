import Foundation

/// Which protocol's error body a failure is written in. Chosen by the request's path, so the
/// middleware, the routes and a response that already started all agree.
enum ErrorShape: Sendable {
    /// `{"error": {"message", "type", "param", "code"}}`
    case openAI
    /// `{"type": "error", "error": {"type", "message"}}`
    case anthropic
    /// `{"error": "message"}`
    case ollama
    /// A Responses stream's `error` event: `{"type": "error", "code", "message", "param"}` (its
    /// requests' errors before the stream starts are OpenAI's; the route writes the events of a
    /// generation that fails, this shape covers anything else).
    case responsesEvent

    static func forPath(_ path: String) -> ErrorShape {
        if path.hasPrefix("/v1/messages") || path.hasPrefix("/messages") { return .anthropic }
        if path.hasPrefix("/api/") { return .ollama }
        return .openAI
    }
}

extension OpenAIError {
    /// The body in `shape`.
    func shapedBody(_ shape: ErrorShape) -> Data {
        let object: [String: Any]
        switch shape {
        case .openAI: return body
        case .anthropic: object = ["type": "error", "error": ["type": anthropicType, "message": message]]
        case .ollama: object = ["error": message]
        case .responsesEvent:
            object = ["type": "error", "code": code ?? type, "message": message, "param": param ?? NSNull(), "sequence_number": 0]
        }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }

    /// Anthropic's error types, by status (their documented table).
    var anthropicType: String {
        switch status.code {
        case 400, 405, 422: return "invalid_request_error"
        case 401: return "authentication_error"
        case 403: return "permission_error"
        case 404: return "not_found_error"
        case 413: return "request_too_large"
        case 429: return "rate_limit_error"
        case 503, 529: return "overloaded_error"
        default: return "api_error"
        }
    }
}
