import Hummingbird
import NIOCore

/// The request context of the server's routes: Hummingbird's basics plus the peer's address,
/// which the per-client admission limit keys on.
public struct ServerRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Who a request counts against for `--max-requests-per-client`: the peer's IP address (each
    /// connection has its own port).
    var clientKey: String { remoteAddress?.ipAddress ?? "unknown" }
}
