import Foundation
import Synchronization

/// Decides, before a generation route sends its status line, whether the request will be served:
/// it either gets a place (an `Admission`, held until its response is fully written, however
/// long it waits for the engine) or a 503 with Retry-After. The engine behind it never refuses
/// an admitted request, so no response starts with 200 and then breaks off for lack of room.
///
/// With a per-client bound, a client (IP address) holding that many places gets 429 instead, so
/// one client's burst cannot take every place.
///
/// Places = the engine's slots plus its waiting queue (`--max-num-seqs` + `--max-queue`). One
/// HTTP request holds one place even with `n` > 1 or several prompts: the routes run those
/// generations one after another.
public final class AdmissionGate: Sendable {
    private struct State {
        var held = 0
        var byClient: [String: Int] = [:]
        var draining = false
        var nextId = 0
        /// Weak: a ticket's place is released when its last reference goes.
        var tickets: [Int: WeakAdmission] = [:]
    }

    /// Places in all; nil admits without bound (backends with their own limits, tests).
    public let capacity: Int?
    /// Places one client may hold; nil: no per-client bound.
    public let perClient: Int?
    private let state = Mutex(State())

    public init(capacity: Int?, perClient: Int? = nil) {
        self.capacity = capacity.map { max(0, $0) }
        self.perClient = perClient.map { max(1, $0) }
    }

    /// Requests holding a place now.
    public var held: Int { state.withLock { $0.held } }
    public var isDraining: Bool { state.withLock { $0.draining } }

    /// A place for one request from `client`, or the 503 (or 429) to answer instead.
    public func admit(client: String = "") throws(OpenAIError) -> Admission {
        let outcome: Result<Admission, OpenAIError> = state.withLock { s in
            if s.draining { return .failure(Self.shuttingDown) }
            if let perClient, s.byClient[client, default: 0] >= perClient {
                return .failure(.rateLimited("this client already has \(perClient) requests running or waiting, the most one client "
                                             + "may have; retry when one has finished"))
            }
            if let capacity, s.held >= capacity {
                return .failure(.unavailable("the server is busy: all \(capacity) places (running and waiting) are taken; retry later"))
            }
            let ticket = Admission(id: s.nextId, client: client, gate: self)
            s.nextId += 1
            s.held += 1
            s.byClient[client, default: 0] += 1
            s.tickets[ticket.id] = WeakAdmission(value: ticket)
            return .success(ticket)
        }
        return try outcome.get()
    }

    public static var shuttingDown: OpenAIError { .unavailable("the server is shutting down; retry on another instance") }

    /// Stops admitting (every later `admit` is a 503); places already held stay valid.
    public func drain() {
        state.withLock { $0.draining = true }
    }

    /// Ends every held place's generation with `error` (the routes write it as an error event
    /// or a JSON error object). Returns how many were aborted.
    @discardableResult
    public func abortAll(_ error: OpenAIError = AdmissionGate.shuttingDown) -> Int {
        let tickets = state.withLock { $0.tickets.values.compactMap(\.value) }
        for ticket in tickets { ticket.abort(error) }
        return tickets.count
    }

    /// Waits until no place is held or `timeout` passes; true when none is held.
    public func waitUntilEmpty(timeout: Duration, poll: Duration = .milliseconds(20)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while held > 0 {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: poll)
        }
        return true
    }

    fileprivate func release(_ id: Int, client: String) {
        state.withLock { s in
            guard s.tickets.removeValue(forKey: id) != nil else { return }
            s.held -= 1
            let left = s.byClient[client, default: 1] - 1
            s.byClient[client] = left > 0 ? left : nil
        }
    }
}

/// One request's place at the gate. Released by `release()` or, at the latest, when the last
/// reference goes (the response body closure that captured it has run or was dropped).
public final class Admission: Sendable {
    private struct State {
        var released = false
        var abortedWith: OpenAIError?
        var onAbort: [Int: @Sendable (OpenAIError) -> Void] = [:]
        var nextHandler = 0
    }

    let id: Int
    let client: String
    private weak let gate: AdmissionGate?
    private let state = Mutex(State())

    fileprivate init(id: Int, client: String, gate: AdmissionGate) {
        self.id = id
        self.client = client
        self.gate = gate
    }

    deinit { gate?.release(id, client: client) }

    public func release() {
        let first = state.withLock { s in
            defer { s.released = true }
            return !s.released
        }
        if first { gate?.release(id, client: client) }
    }

    /// The error this place was aborted with, if it was.
    public var abortedWith: OpenAIError? { state.withLock { $0.abortedWith } }

    /// Calls `handler` once if the place is aborted (at once when it already was). Returns a key
    /// for `removeAbortHandler`.
    @discardableResult
    public func onAbort(_ handler: @escaping @Sendable (OpenAIError) -> Void) -> Int {
        let (key, already) = state.withLock { s -> (Int, OpenAIError?) in
            let key = s.nextHandler
            s.nextHandler += 1
            if s.abortedWith == nil { s.onAbort[key] = handler }
            return (key, s.abortedWith)
        }
        if let already { handler(already) }
        return key
    }

    public func removeAbortHandler(_ key: Int) {
        _ = state.withLock { $0.onAbort.removeValue(forKey: key) }
    }

    func abort(_ error: OpenAIError) {
        let handlers = state.withLock { s -> [@Sendable (OpenAIError) -> Void] in
            guard s.abortedWith == nil else { return [] }
            s.abortedWith = error
            defer { s.onAbort.removeAll() }
            return Array(s.onAbort.values)
        }
        for handler in handlers { handler(error) }
    }
}

private struct WeakAdmission {
    weak var value: Admission?
}
