import Foundation
import IQuestServer
import ServiceLifecycle
import XCTest

/// The whole server (connection guard, drain service) on a loopback port.
struct LiveServer: Sendable {
    let port: Int
    let metrics: ServerMetrics
    let group: ServiceGroup

    /// The sum of a metric's samples on `GET /metrics` (labels as given in `name`'s prefix).
    func metric(_ name: String) async -> Double {
        let (response, _) = await exchange(port: port, rawRequest("GET", "/metrics"))
        return sumOfSamples(name, in: response?.text ?? "")
    }
}

func sumOfSamples(_ name: String, in exposition: String) -> Double {
    var total = 0.0
    for line in exposition.split(separator: "\n") where line.hasPrefix(name) && !line.hasPrefix("#") {
        // A name alone must not match longer names; a prefix with labels matches those labels.
        let rest = line.dropFirst(name.count)
        guard name.contains("{") || rest.first == " " || rest.first == "{" else { continue }
        if let value = line.split(separator: " ").last.flatMap({ Double($0) }) { total += value }
    }
    return total
}

/// Runs `body` against the server on a free loopback port, then stops it gracefully (as SIGTERM does).
func withLiveServer(_ backend: any InferenceBackend, configure: (inout ServerConfiguration) -> Void = { _ in },
                    _ body: @escaping @Sendable (LiveServer) async throws -> Void) async throws {
    var config = ServerConfiguration()
    config.port = 0
    config.pingInterval = .seconds(60)
    configure(&config)
    let metrics = ServerMetrics()
    let (ports, portContinuation) = AsyncStream<Int>.makeStream()
    let group = makeServerServiceGroup(backend: backend, configuration: config, metrics: metrics, stopOnSignals: false) { port in
        portContinuation.yield(port)
        portContinuation.finish()
    }
    let running = Task { try await group.run() }
    var port: Int?
    for await p in ports { port = p }
    let server = LiveServer(port: try XCTUnwrap(port, "the server did not start"), metrics: metrics, group: group)
    do {
        try await body(server)
    } catch {
        await group.triggerGracefulShutdown()
        try? await running.value
        throw error
    }
    await group.triggerGracefulShutdown()
    try await running.value
}

/// How a generation request ended, seen from the client.
enum Outcome: Equatable, CustomStringConvertible {
    /// 200 with a whole answer: finish_reason set (and `[DONE]` for a stream).
    case complete
    /// 503/429 with Retry-After and an OpenAI error object, before any response.
    case refused(Int)
    /// 200, then an OpenAI error (an error event then `[DONE]`, or the JSON error object).
    case errorEnd(String)
    /// The client hung up on purpose.
    case cancelled
    /// Anything else: 200 then nothing usable (the bug), or an unexpected status.
    case broken(String)

    var description: String {
        switch self {
        case .complete: return "complete"
        case .refused(let s): return "refused \(s)"
        case .errorEnd(let t): return "error end (\(t))"
        case .cancelled: return "cancelled"
        case .broken(let why): return "broken: \(why)"
        }
    }

    var isBroken: Bool { if case .broken = self { return true } else { return false } }
}

/// Classifies a raw response to a chat or completions request.
func classify(_ response: RawResponse?, streaming: Bool) -> Outcome {
    guard let response else { return .broken("no response") }
    if response.status == 503 || response.status == 429 {
        guard response.headers["retry-after"] != nil else { return .broken("\(response.status) without Retry-After") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], object["error"] is [String: Any] else {
            return .broken("\(response.status) without an error object: \(response.text)")
        }
        return .refused(response.status)
    }
    guard response.status == 200 else { return .broken("status \(response.status): \(response.text.prefix(200))") }
    guard response.complete else { return .broken("body cut (transfer not complete): \(response.text.suffix(200))") }
    if streaming {
        let blocks = response.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        guard blocks.last == "data: [DONE]" else { return .broken("stream without [DONE]: \(response.text.suffix(200))") }
        var finished = false
        for block in blocks where block.hasPrefix("data: {") {
            guard let event = try? JSONSerialization.jsonObject(with: Data(block.dropFirst(6).utf8)) as? [String: Any] else {
                return .broken("event is not JSON: \(block.prefix(200))")
            }
            if let error = event["error"] as? [String: Any] { return .errorEnd(error["type"] as? String ?? "?") }
            for choice in event["choices"] as? [[String: Any]] ?? [] where choice["finish_reason"] is String { finished = true }
        }
        return finished ? .complete : .broken("stream without finish_reason")
    }
    guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
        return .broken("body is not JSON: \(response.text.prefix(200))")
    }
    if let error = object["error"] as? [String: Any] { return .errorEnd(error["type"] as? String ?? "?") }
    let choices = object["choices"] as? [[String: Any]] ?? []
    return !choices.isEmpty && choices.allSatisfy({ $0["finish_reason"] is String }) ? .complete : .broken("no finish_reason")
}

/// Sends one generation request on its own connection. With `cancelAfterBytes`, the client
/// resets the connection once that many response bytes have arrived (a cancelled request).
func generation(port: Int, path: String = "/v1/chat/completions", body: String, streaming: Bool,
                cancelAfterBytes: Int? = nil, timeout: Double = 120) async -> Outcome {
    await onThread {
        guard let socket = try? LoopbackSocket(port: port, timeout: timeout) else { return .broken("connect failed") }
        guard socket.send(rawRequest("POST", path, body: body)) else {
            socket.close()
            return .broken("send failed")
        }
        if let limit = cancelAfterBytes {
            var received: [UInt8] = []
            while received.count < limit {
                guard let chunk = socket.receive(), !chunk.isEmpty else { break }
                received += chunk
            }
            // A response that was refused or finished before the cancel point is what it is.
            if let response = RawResponse(received), response.status != 200 || response.complete {
                socket.close()
                return classify(response, streaming: streaming)
            }
            socket.reset()
            return .cancelled
        }
        let (bytes, _) = socket.readToEnd()
        socket.close()
        return classify(RawResponse(bytes), streaming: streaming)
    }
}
