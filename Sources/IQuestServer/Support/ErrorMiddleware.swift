import Foundation
import HTTPTypes
import Hummingbird
import IQuestEngine
import NIOCore
import NIOHTTP1

/// Outermost middleware: every failure leaves as OpenAI's error object (router 404s, oversized
/// bodies and unexpected errors included), and every response is counted in `/metrics`.
struct ErrorAndMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics
    static var tooLarge: OpenAIError {
        OpenAIError(status: .contentTooLarge, message: "the request body is larger than the server accepts",
                    type: "invalid_request_error", param: nil, code: "body_too_large")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let route = context.endpointPath ?? "unmatched"
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPParserError {
            // The client broke the request (or went away) while its body was being read. Hummingbird
            // answers 400 and closes the connection when this propagates; it is the client's
            // doing, so it is counted and logged quietly.
            let kind = error == .invalidEOFState ? "disconnect_during_body" : "malformed_http"
            metrics.recordClientCondition(kind)
            context.logger.debug("request body unreadable: \(error.debugDescription)", metadata: ["kind": "\(kind)"])
            metrics.recordResponse(route: route, method: request.method.rawValue, status: 400)
            throw error
        } catch let error as OpenAIError {
            response = try error.response(from: request, context: context)
        } catch let error as GenerationError {
            // Checks the engine makes on a request (ids outside the vocabulary, an empty prompt).
            response = try OpenAIError.invalid(error.message).response(from: request, context: context)
        } catch let error as SamplingParametersError {
            response = try OpenAIError.invalid(error.message, param: error.parameter).response(from: request, context: context)
        } catch is NIOTooManyBytesError {
            response = try Self.tooLarge.response(from: request, context: context)
        } catch let error as HTTPError {
            let openAI: OpenAIError
            switch error.status {
            case .notFound:
                openAI = .notFound("no route for \(request.method) \(request.uri.path)")
            case .contentTooLarge:
                openAI = Self.tooLarge
            case .methodNotAllowed:
                openAI = OpenAIError(status: .methodNotAllowed, message: "\(request.method) is not allowed on \(request.uri.path)",
                                     type: "invalid_request_error", param: nil, code: nil)
            default:
                openAI = OpenAIError(status: error.status, message: error.body ?? error.status.reasonPhrase,
                                     type: error.status.code < 500 ? "invalid_request_error" : "server_error", param: nil, code: nil)
            }
            response = try openAI.response(from: request, context: context)
        } catch {
            context.logger.error("request failed: \(error)")
            response = try OpenAIError.server("internal error: \(error)").response(from: request, context: context)
        }
        switch response.status.code {
        case 401: metrics.recordClientCondition("unauthorized")
        case 400, 404, 405, 413, 422: metrics.recordClientCondition("invalid_request")
        default: break
        }
        metrics.recordResponse(route: route, method: request.method.rawValue, status: response.status.code)
        return response
    }
}

/// `Authorization: Bearer KEY` or `x-api-key: KEY` on every route except the public ones,
/// compared in constant time.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    static var xAPIKey: HTTPField.Name { HTTPField.Name("x-api-key")! }
    let key: [UInt8]
    /// `/` answers Claude Code's reachability check (HEAD or GET) and `/api/version` Ollama
    /// clients' probe without a key; neither says anything about the model.
    static var publicPaths: Set<String> { ["/", "/api/version", "/health", "/v1/health", "/v1/models", "/models"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.publicPaths.contains(request.uri.path) { return try await next(request, context) }
        // Bearer (OpenAI, Claude Code's ANTHROPIC_AUTH_TOKEN) or x-api-key (the anthropic SDK).
        let header = request.headers[.authorization] ?? ""
        let prefix = "Bearer "
        let bearer = header.hasPrefix(prefix) && APIKeyCheck.equal(Array(header.dropFirst(prefix.count).utf8), key)
        let xKey = request.headers[Self.xAPIKey].map { APIKeyCheck.equal(Array($0.utf8), key) } ?? false
        guard bearer || xKey else { throw OpenAIError.unauthorized() }
        return try await next(request, context)
    }
}

/// API key comparison whose time depends only on the lengths, never on where the first
/// difference is.
public enum APIKeyCheck {
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
