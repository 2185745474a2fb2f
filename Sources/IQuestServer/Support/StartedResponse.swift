import Foundation
import Hummingbird
import IQuestEngine
import Logging
import NIOCore

/// A write to the client failed: it went away. Nothing more can be sent; the route stops.
struct ClientGone: Error {
    let underlying: any Error
}

/// A failure whose closing events the route has already written (Responses numbers its events,
/// so only the route can write them); `end(after:)` still counts and logs it.
struct EndWritten: Error {
    let underlying: any Error
}

/// The body of a response whose status line has gone out (200 with SSE or a JSON object behind
/// whitespace heartbeats). Writes that fail become `ClientGone`, so a route can tell a gone client
/// from a failed generation; `end(after:)` turns any failure into the end the client can parse.
struct StartedResponse {
    enum Kind: String {
        /// Server-sent events: a failure is one `data: {"error": …}` event, then `data: [DONE]`.
        case events
        /// A JSON object after whitespace: a failure is the error object itself.
        case json
        /// Server-sent events with event names (Anthropic, Responses): a failure is an `error` event.
        case namedEvents
        /// Newline-delimited JSON (Ollama): a failure is one `{"error": …}` line.
        case ndjson
    }

    let kind: Kind
    let route: String
    let metrics: ServerMetrics
    let logger: Logger
    /// The protocol whose error body a failure is written in.
    var shape: ErrorShape = .openAI

    func write(_ buffer: ByteBuffer, to writer: inout any ResponseBodyWriter) async throws {
        do {
            try await writer.write(buffer)
        } catch {
            throw ClientGone(underlying: error)
        }
    }

    func finish(_ writer: inout any ResponseBodyWriter) async throws {
        do {
            try await writer.finish(nil)
        } catch {
            throw ClientGone(underlying: error)
        }
    }

    /// Ends the body after `error`: a gone client is counted and logged quietly (it is the
    /// client's doing) and the error rethrown so the connection closes; anything else is written
    /// as an OpenAI error and counted as a failure after the response started.
    func end(after error: any Error, writer: inout any ResponseBodyWriter) async throws {
        if let gone = error as? ClientGone {
            metrics.recordClientCondition("disconnect_during_response")
            logger.debug("client went away during the response", metadata: ["route": "\(route)", "error": "\(gone.underlying)"])
            throw gone
        }
        let written = error is EndWritten
        let openAI = Self.openAIError((error as? EndWritten)?.underlying ?? error)
        metrics.recordFailedAfterStart(route: route, type: openAI.type)
        if openAI.status.code >= 500 && openAI.type != "service_unavailable" {
            logger.error("generation failed after the response started: \(openAI.message)", metadata: ["route": "\(route)"])
        } else {
            logger.notice("response ended with an error: \(openAI.message)", metadata: ["route": "\(route)"])
        }
        let text = String(decoding: openAI.shapedBody(shape), as: UTF8.self)
        switch written ? nil : kind {
        case nil:
            break
        case .events:
            try await write(ByteBuffer(string: "data: \(text)\n\ndata: [DONE]\n\n"), to: &writer)
        case .json:
            try await write(ByteBuffer(string: text), to: &writer)
        case .namedEvents:
            try await write(ByteBuffer(string: "event: error\ndata: \(text)\n\n"), to: &writer)
        case .ndjson:
            try await write(ByteBuffer(string: text + "\n"), to: &writer)
        }
        try await finish(&writer)
    }

    /// The OpenAI error a failure is reported as.
    static func openAIError(_ error: any Error) -> OpenAIError {
        switch error {
        case let e as OpenAIError: return e
        case let e as GenerationError: return .invalid(e.message)
        case let e as SamplingParametersError: return .invalid(e.message, param: e.parameter)
        default: return .server("internal error: \(error)")
        }
    }
}
