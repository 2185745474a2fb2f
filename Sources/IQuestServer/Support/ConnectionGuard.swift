import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Limits on connections, shared by every connection's `ConnectionGuard`.
public final class ConnectionLimits: Sendable {
    /// Connections past this many get one 503 answer and are closed.
    public let maxConnections: Int
    /// A request head must be complete within this long of the connection opening or of the
    /// previous response's end (slowloris; idle keep-alive connections close after it too).
    public let headerTimeout: TimeAmount
    /// A request body must be complete within this long of its head.
    public let bodyTimeout: TimeAmount
    /// After an early answer the server stops writing and reads (and drops) what the client
    /// still sends for up to this long, so the client sees the answer rather than a reset.
    public let lingerTimeout: TimeAmount
    let metrics: ServerMetrics
    let logger: Logger
    private let open = Atomic<Int>(0)

    public init(maxConnections: Int, headerTimeout: Duration, bodyTimeout: Duration, lingerTimeout: Duration = .milliseconds(500),
                metrics: ServerMetrics, logger: Logger) {
        self.maxConnections = max(1, maxConnections)
        self.headerTimeout = TimeAmount(headerTimeout)
        self.bodyTimeout = TimeAmount(bodyTimeout)
        self.lingerTimeout = TimeAmount(lingerTimeout)
        self.metrics = metrics
        self.logger = logger
    }

    /// Connections open now.
    public var openConnections: Int { open.load(ordering: .relaxed) }

    /// Counts a new connection; false when it is past the cap.
    func opened() -> Bool { open.add(1, ordering: .relaxed).newValue <= maxConnections }
    func closed() { open.subtract(1, ordering: .relaxed) }
}

/// Sits between the HTTP codec and Hummingbird on every connection:
/// - over the connection cap, answers the first request 503 (Retry-After) and closes;
/// - closes connections whose request head or body does not arrive in time;
/// - after an answer sent before the request body was read (413, 401, a 400 on the head), and
///   after any 401/413, says `Connection: close`, stops writing, drops the rest of the body for
///   a short linger and closes, so a client still writing learns at once instead of the server
///   reading the whole body first.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limits: ConnectionLimits
    private var counted = false
    private var refused = false
    /// The current request's `.end` has arrived (true between requests).
    private var requestComplete = true
    private var closeAfterResponse = false
    /// Request heads received whose responses have not ended (more than one only when pipelined).
    private var pending = 0
    /// Output closed; inbound parts are dropped until the connection closes.
    private var lingering = false
    private var headerTimer: Scheduled<Void>?
    private var bodyTimer: Scheduled<Void>?

    init(limits: ConnectionLimits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        counted = true
        if !limits.opened() {
            refused = true
            limits.metrics.recordRejected(reason: "connections")
            limits.logger.debug("connection refused: \(limits.maxConnections) connections are open")
        }
        armHeaderTimer(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
        if counted {
            counted = false
            limits.closed()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if lingering { return }
        switch part {
        case .head:
            headerTimer?.cancel()
            headerTimer = nil
            if refused {
                refuse(context)
                return
            }
            requestComplete = false
            pending += 1
            bodyTimer = context.eventLoop.assumeIsolated().scheduleTask(in: limits.bodyTimeout) { [self] in
                timedOut(context, kind: "body_timeout")
            }
        case .body:
            break
        case .end:
            requestComplete = true
            bodyTimer?.cancel()
            bodyTimer = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            let status = head.status.code
            if (pending <= 1 && !requestComplete) || status == 401 || status == 413 {
                closeAfterResponse = true
                head.headerFields[.connection] = "close"
                context.write(wrapOutboundOut(.head(head)), promise: promise)
                return
            }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            pending = max(0, pending - 1)
            guard closeAfterResponse else {
                context.write(data, promise: promise)
                if pending == 0 { armHeaderTimer(context) }
                return
            }
            let written = context.eventLoop.makePromise(of: Void.self)
            context.write(data, promise: written)
            written.futureResult.cascade(to: promise)
            written.futureResult.assumeIsolated().whenComplete { [self] result in
                // A failed write means the client is gone already (counted where that was seen).
                if case .success = result { limits.metrics.recordClientCondition("closed_after_early_answer") }
                linger(context)
            }
        }
    }

    // MARK: private

    private func armHeaderTimer(_ context: ChannelHandlerContext) {
        headerTimer?.cancel()
        headerTimer = context.eventLoop.assumeIsolated().scheduleTask(in: limits.headerTimeout) { [self] in
            timedOut(context, kind: "header_timeout")
        }
    }

    private func cancelTimers() {
        headerTimer?.cancel()
        headerTimer = nil
        bodyTimer?.cancel()
        bodyTimer = nil
    }

    private func timedOut(_ context: ChannelHandlerContext, kind: String) {
        guard context.channel.isActive, !lingering else { return }
        limits.metrics.recordClientCondition(kind)
        limits.logger.debug("closing a connection: \(kind.replacingOccurrences(of: "_", with: " "))")
        context.close(promise: nil)
    }

    private func refuse(_ context: ChannelHandlerContext) {
        var error = OpenAIError.unavailable("the server has \(limits.maxConnections) connections open, its limit; retry later")
        error.headers[.connection] = "close"
        var fields = error.headers
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(error.body.count)
        context.write(wrapOutboundOut(.head(HTTPResponse(status: error.status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(bytes: error.body))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { [self] _ in linger(context) }
    }

    /// Half-closes (the answer and a FIN reach the client), drops what still arrives, and
    /// closes for good after the linger time or when the client closes first.
    private func linger(_ context: ChannelHandlerContext) {
        guard !lingering else { return }
        lingering = true
        cancelTimers()
        context.close(mode: .output, promise: nil)
        context.read()
        _ = context.eventLoop.assumeIsolated().scheduleTask(in: limits.lingerTimeout) {
            context.close(promise: nil)
        }
    }
}
