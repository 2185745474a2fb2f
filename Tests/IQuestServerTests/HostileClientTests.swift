import Foundation
import IQuestServer
import XCTest

/// Slow, half-open and oversized clients get bounded treatment and do not hold up anyone else.
final class HostileClientTests: XCTestCase {
    private static let fastChat = #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}"#

    /// 250 connections that never finish their request head and one client trickling its body:
    /// /health and a normal request stay fast, and the server closes the slow ones on time.
    func testHalfOpenConnectionsAndASlowBodyDoNotDelayOthers() async throws {
        let backend = ScriptedBackend(script: ["a", "b"])
        try await withLiveServer(backend, configure: {
            $0.headerTimeout = .milliseconds(1500)
            $0.bodyTimeout = .milliseconds(1500)
        }) { server in
            let port = server.port
            let halfOpen: [LoopbackSocket] = await onThread {
                (0..<250).compactMap { _ in
                    guard let s = try? LoopbackSocket(port: port, timeout: 5) else { return nil }
                    s.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
                    return s
                }
            }
            XCTAssertEqual(halfOpen.count, 250)
            let slowBody = Task {
                await onThread { () -> (sent: Int, seconds: Double) in
                    guard let s = try? LoopbackSocket(port: port, timeout: 5) else { return (0, 0) }
                    defer { s.close() }
                    let start = Date()
                    s.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n")
                    var sent = 0
                    // One byte every 50 ms would take 20 s; the server cuts it off after 1.5 s.
                    while sent < 400, s.send("{") {
                        sent += 1
                        Thread.sleep(forTimeInterval: 0.05)
                    }
                    return (sent, Date().timeIntervalSince(start))
                }
            }
            try await Task.sleep(for: .milliseconds(100))
            let (health, healthSeconds) = await exchange(port: port, rawRequest("GET", "/health"))
            XCTAssertEqual(health?.status, 200)
            XCTAssertLessThan(healthSeconds, 1.0, "/health while 250 connections hang and one body trickles")
            let (chat, chatSeconds) = await exchange(port: port, rawRequest("POST", "/v1/chat/completions", body: Self.fastChat))
            XCTAssertEqual(chat.map { classify($0, streaming: false) }, .complete)
            XCTAssertLessThan(chatSeconds, 1.0)

            // The half-open connections are closed by the server after the header timeout.
            let closedAt: [Double] = await onThread {
                let start = Date()
                return halfOpen.map { s in
                    let (_, closed) = s.readToEnd()
                    s.close()
                    return closed ? Date().timeIntervalSince(start) : -1
                }
            }
            XCTAssertFalse(closedAt.contains(-1), "a half-open connection was left open")
            XCTAssertLessThan(closedAt.max() ?? 99, 4.0)
            let slow = await slowBody.value
            XCTAssertLessThan(slow.sent, 400, "the slow body was cut off")
            XCTAssertLessThan(slow.seconds, 6.0)
            let headerTimeouts = await server.metric(#"iquest:client_conditions_total{kind="header_timeout"}"#)
            XCTAssertGreaterThanOrEqual(headerTimeouts, 250)
            let bodyTimeouts = await server.metric(#"iquest:client_conditions_total{kind="body_timeout"}"#)
            XCTAssertEqual(bodyTimeouts, 1)
        }
    }

    /// Clients that hang up in the middle of their body are counted (not logged as server errors),
    /// and the server goes on serving.
    func testDisconnectsMidBodyAreCountedAsClientConditions() async throws {
        let backend = ScriptedBackend(script: ["a"])
        try await withLiveServer(backend) { server in
            await onThread {
                for _ in 0..<20 {
                    guard let s = try? LoopbackSocket(port: server.port, timeout: 5) else { continue }
                    s.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"messages\": [")
                    s.close()
                }
            }
            var counted = 0.0
            for _ in 0..<100 where counted < 20 {
                try await Task.sleep(for: .milliseconds(20))
                counted = await server.metric(#"iquest:client_conditions_total{kind="disconnect_during_body"}"#)
            }
            XCTAssertEqual(counted, 20)
            let (chat, _) = await exchange(port: server.port, rawRequest("POST", "/v1/chat/completions", body: Self.fastChat))
            XCTAssertEqual(chat.map { classify($0, streaming: false) }, .complete)
        }
    }

    /// Past the connection cap a request gets a 503 it can read, with Retry-After, and the
    /// connection closes; once connections go away, new ones are served.
    func testConnectionCapRefusesClearly() async throws {
        let backend = ScriptedBackend(script: ["a"])
        try await withLiveServer(backend, configure: { $0.maxConnections = 10 }) { server in
            let port = server.port
            let holders: [LoopbackSocket] = await onThread {
                (0..<10).compactMap { _ in try? LoopbackSocket(port: port, timeout: 5) }
            }
            XCTAssertEqual(holders.count, 10)
            try await Task.sleep(for: .milliseconds(100))
            let (refused, seconds) = await exchange(port: port, rawRequest("GET", "/health"))
            XCTAssertEqual(refused?.status, 503)
            XCTAssertEqual(refused?.headers["retry-after"], "1")
            XCTAssertEqual(refused?.headers["connection"], "close")
            XCTAssertTrue(refused?.text.contains("connections open") ?? false, refused?.text ?? "")
            XCTAssertLessThan(seconds, 1.5)
            for s in holders { s.close() }
            var status: Int?
            for _ in 0..<50 where status != 200 {
                try await Task.sleep(for: .milliseconds(20))
                status = await exchange(port: port, rawRequest("GET", "/health")).response?.status
            }
            XCTAssertEqual(status, 200)
            let refusals = await server.metric(#"iquest:requests_rejected_total{reason="connections"}"#)
            XCTAssertGreaterThanOrEqual(refusals, 1)
        }
    }

    /// A 20 MB body against a 64 KiB limit: 413 and a closed connection within a second, while
    /// the client is still writing (its writes then fail instead of going on to the end).
    func testOversizedBodyGets413AndAClosedConnectionWithinASecond() async throws {
        let backend = ScriptedBackend(script: ["a"])
        try await withLiveServer(backend, configure: { $0.maxBodyBytes = 64 << 10 }) { server in
            let socket = try LoopbackSocket(port: server.port, timeout: 5)
            let start = Date()
            let writer = Task {
                await onThread { () -> Double in
                    let size = 20 << 20
                    socket.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(size)\r\n\r\n")
                    let chunk = [UInt8](repeating: 0x20, count: 64 << 10)
                    var sent = 0
                    while sent < size, socket.send(chunk) { sent += chunk.count }
                    return Date().timeIntervalSince(start)
                }
            }
            let (bytes, closed) = await onThread { socket.readToEnd() }
            let answered = Date().timeIntervalSince(start)
            let response = try XCTUnwrap(RawResponse(bytes))
            XCTAssertEqual(response.status, 413)
            XCTAssertEqual(response.headers["connection"], "close")
            XCTAssertTrue(closed, "the server closed the connection")
            XCTAssertLessThan(answered, 1.0)
            let writerDone = await writer.value
            XCTAssertLessThan(writerDone, 2.0, "the writer learned of the close quickly")
            socket.close()
            let error = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            XCTAssertEqual((error?["error"] as? [String: Any])?["code"] as? String, "body_too_large")
        }
    }

    /// 401 is answered before the body is read; the connection closes instead of the server
    /// reading the rest of a large body first.
    func testUnauthorizedBeforeTheBodyClosesTheConnection() async throws {
        let backend = ScriptedBackend(script: ["a"])
        try await withLiveServer(backend, configure: { $0.apiKey = "sekret" }) { server in
            let (bytes, closed, seconds) = await onThread { () -> ([UInt8], Bool, Double) in
                guard let s = try? LoopbackSocket(port: server.port, timeout: 5) else { return ([], false, 0) }
                defer { s.close() }
                let start = Date()
                s.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n")
                s.send([UInt8](repeating: 0x20, count: 1024))
                let (bytes, closed) = s.readToEnd()
                return (bytes, closed, Date().timeIntervalSince(start))
            }
            let response = try XCTUnwrap(RawResponse(bytes))
            XCTAssertEqual(response.status, 401)
            XCTAssertEqual(response.headers["connection"], "close")
            XCTAssertTrue(closed)
            XCTAssertLessThan(seconds, 1.0)
        }
    }
}
