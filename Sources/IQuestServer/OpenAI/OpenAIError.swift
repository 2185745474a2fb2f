import Foundation
import HTTPTypes
import Hummingbird

/// An error answered in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
public struct OpenAIError: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?
    /// Extra response headers (e.g. `WWW-Authenticate`, `Retry-After`).
    public var headers: HTTPFields = [:]

    public var description: String { message }

    public static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> OpenAIError {
        OpenAIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    public static func unauthorized() -> OpenAIError {
        var e = OpenAIError(status: .unauthorized,
                            message: "missing or invalid API key; send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
                            type: "authentication_error", param: nil, code: "invalid_api_key")
        e.headers[.wwwAuthenticate] = "Bearer"
        return e
    }

    public static func notFound(_ message: String, code: String? = nil) -> OpenAIError {
        OpenAIError(status: .notFound, message: message, type: "not_found_error", param: nil, code: code)
    }

    public static func unavailable(_ message: String) -> OpenAIError {
        var e = OpenAIError(status: .serviceUnavailable, message: message, type: "service_unavailable", param: nil, code: nil)
        e.headers[.retryAfter] = "1"
        return e
    }

    /// The client's own load is the cause (OpenAI's rate-limit shape).
    public static func rateLimited(_ message: String) -> OpenAIError {
        var e = OpenAIError(status: .tooManyRequests, message: message, type: "requests", param: nil, code: "rate_limit_exceeded")
        e.headers[.retryAfter] = "1"
        return e
    }

    public static func server(_ message: String) -> OpenAIError {
        OpenAIError(status: .internalServerError, message: message, type: "server_error", param: nil, code: nil)
    }

    /// The JSON body.
    public var body: Data {
        var error: [String: Any] = ["message": message, "type": type]
        error["param"] = param ?? NSNull()
        error["code"] = code ?? NSNull()
        return (try? JSONSerialization.data(withJSONObject: ["error": error], options: [.sortedKeys])) ?? Data()
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        let shaped = shapedBody(ErrorShape.forPath(request.uri.path))
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: shaped)))
    }
}
