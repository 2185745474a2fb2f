import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Blocking loopback TCP, for tests that need what an HTTP client library hides: half-open
/// connections, slow bodies, resets, reading the raw response and seeing the server close.
/// Every blocking call runs on its own thread (`onThread`), never on Swift's cooperative pool,
/// which the in-process server needs.
final class LoopbackSocket: @unchecked Sendable {
    let fd: Int32

    /// Connects to 127.0.0.1:`port`; reads give up after `timeout` seconds.
    init(port: Int, timeout: Double = 10) throws {
        #if canImport(Glibc)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: .init((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            closeSocket(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED)
        }
    }

    /// False when the connection is gone (reset, closed by the server).
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { sendNoSignal(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Up to `max` bytes; empty at end of stream; nil on a timeout or error.
    func receive(max: Int = 65536) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: max)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
        if n < 0 { return nil }
        return Array(buffer[0..<n])
    }

    /// Everything until the server closes; `closed` is false when the read timed out first.
    func readToEnd() -> (bytes: [UInt8], closed: Bool) {
        var out: [UInt8] = []
        while true {
            guard let chunk = receive() else { return (out, false) }
            if chunk.isEmpty { return (out, true) }
            out += chunk
        }
    }

    /// Closes with an RST (SO_LINGER 0), as a client that is killed or cancels abruptly.
    func reset() {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        closeSocket(fd)
    }

    func close() { closeSocket(fd) }
}

private func closeSocket(_ fd: Int32) { _ = close(fd) }

/// A send that reports a gone peer as an error instead of raising SIGPIPE.
private func sendNoSignal(_ fd: Int32, _ pointer: UnsafeRawPointer?, _ count: Int) -> Int {
    #if os(Linux)
    return send(fd, pointer, count, Int32(MSG_NOSIGNAL))
    #else
    return send(fd, pointer, count, 0)
    #endif
}

/// Runs blocking work on a new thread and awaits its result.
func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// An HTTP/1.1 response read off a socket.
struct RawResponse {
    var status: Int
    /// Lowercased names.
    var headers: [String: String]
    /// The body, de-chunked.
    var body: [UInt8]
    /// The body was complete (its length or its last chunk arrived).
    var complete: Bool

    var text: String { String(decoding: body, as: UTF8.self) }

    /// Parses the bytes of one response (nil when not even the head is there).
    init?(_ bytes: [UInt8]) {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = bytes.firstRange(of: separator) else { return nil }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
        self.status = status
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        self.headers = headers
        let rest = Array(bytes[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            (body, complete) = Self.dechunk(rest)
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            body = Array(rest.prefix(length))
            complete = rest.count >= length
        } else {
            body = rest
            complete = true
        }
    }

    private static func dechunk(_ bytes: [UInt8]) -> ([UInt8], Bool) {
        var out: [UInt8] = []
        var i = 0
        let crlf: [UInt8] = [13, 10]
        while true {
            guard let lineEnd = bytes[i...].firstRange(of: crlf) else { return (out, false) }
            let sizeText = String(decoding: bytes[i..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return (out, false) }
            let start = lineEnd.upperBound
            if size == 0 { return (out, true) }
            guard start + size <= bytes.count else { return (out + bytes[start...], false) }
            out += bytes[start..<start + size]
            i = start + size + 2
            guard i <= bytes.count else { return (out, false) }
        }
    }
}

/// Builds a request with `Connection: close`, so the whole response is what arrives before EOF.
func rawRequest(_ method: String, _ path: String, body: String? = nil, key: String? = nil, extraHeaders: String = "") -> [UInt8] {
    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extraHeaders
    if let key { head += "Authorization: Bearer \(key)\r\n" }
    if let body {
        head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
    } else {
        head += "\r\n"
    }
    return Array(head.utf8)
}

/// One request on its own connection; the parsed response (nil: none or unparseable) and how long it took.
func exchange(port: Int, _ request: [UInt8], timeout: Double = 30) async -> (response: RawResponse?, seconds: Double) {
    await onThread {
        let start = Date()
        guard let socket = try? LoopbackSocket(port: port, timeout: timeout) else { return (nil, 0) }
        defer { socket.close() }
        socket.send(request)
        let (bytes, _) = socket.readToEnd()
        return (RawResponse(bytes), Date().timeIntervalSince(start))
    }
}
