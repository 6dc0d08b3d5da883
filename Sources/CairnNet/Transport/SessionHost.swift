import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A node's sessions: a TCP listener with a UDP socket beside it on the same port, the
/// dialer, and the bounds all sessions share. Sessions are Noise XX (the peer's key
/// unknown) or IK (known) handshakes over `length u16 | bytes` records, then encrypted
/// frames (`docs/DESIGN.md`, "Transport"). Everything a session reports goes to the
/// delegate, on the session's event loop.
///
/// The caller owns the event loop group: `shutdown()` closes the sockets and sessions,
/// then the caller shuts the group down.
public final class SessionHost: Sendable {
    private let identity: SessionIdentity
    private let group: any EventLoopGroup
    private let host: HostContext
    private let listeners = Mutex<[any Channel]>([])

    public init(identity: SessionIdentity, group: any EventLoopGroup, configuration: TransportConfiguration = TransportConfiguration(),
                delegate: any SessionDelegate, logger: Logger)
    {
        self.identity = identity
        self.group = group
        host = HostContext(identity: identity, group: group, configuration: configuration, delegate: delegate, logger: logger)
    }

    /// Counters since the host started.
    public var statistics: TransportStatistics {
        let r = host.registry
        return TransportStatistics(sessionsOpen: r.openSessions, sessionsDropped: r.sessionsDropped.load(ordering: .relaxed),
                                   sessionsRefused: r.sessionsRefused.load(ordering: .relaxed),
                                   datagramsReceived: r.datagramsReceived.load(ordering: .relaxed),
                                   datagramsDropped: r.datagramsDropped.load(ordering: .relaxed),
                                   bufferedBytes: r.buffered.load(ordering: .relaxed),
                                   relayedBytes: host.relay?.relayedBytes.load(ordering: .relaxed) ?? 0)
    }

    /// Listens on `endpoint` (port 0: any free port) for TCP sessions, and binds a UDP socket
    /// on the same address and port for their datagrams. Returns where it listens.
    public func listen(on endpoint: Endpoint) async throws(NetError) -> Endpoint {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let address = channel.remoteAddress?.ipAddress ?? "unknown"
                    try self.host.attach(channel, address: address, handshake: SessionHandshake(responder: identity), isInitiator: false,
                                         opened: nil)
                }
            }
        let listener: any Channel
        do {
            listener = try await bootstrap.bind(host: endpoint.host, port: endpoint.port).get()
        } catch {
            throw NetError(.io, "cannot listen on \(endpoint): \(error); is another process using the port?", cause: error)
        }
        guard let port = listener.localAddress?.port else {
            try? await listener.close()
            throw NetError(.io, "the listener on \(endpoint) has no port")
        }
        listeners.withLock { $0.append(listener) }
        let udp: any Channel
        do {
            udp = try await DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelInitializer { [host] channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DatagramHandler(host: host)) }
                }
                .bind(host: endpoint.host, port: port).get()
        } catch {
            throw NetError(.io, "cannot bind UDP on \(endpoint.host):\(port) beside the TCP listener: \(error)", cause: error)
        }
        listeners.withLock { $0.append(udp) }
        host.setDatagramChannel(udp, port: port)
        host.logger.info("transport.listening", metadata: ["listen.address": "\(endpoint.host)", "listen.port": "\(port)"])
        return Endpoint(host: endpoint.host, port: port)
    }

    /// Dials `endpoint` and runs the handshake: IK when `peerKey` (the peer's Ed25519 node
    /// key, as the coordinator told it) is given, XX otherwise. Returns the open session,
    /// whose `peer` is the certificate the handshake verified.
    public func connect(to endpoint: Endpoint, expecting peerKey: [UInt8]? = nil) async throws(NetError) -> Session {
        let opened = OpenedBox()
        let handshake = try SessionHandshake(initiator: identity, peerNodeKey: peerKey)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(host.configuration.handshakeTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let promise = channel.eventLoop.makePromise(of: Session.self)
                    opened.future.withLock { $0 = promise.futureResult }
                    do {
                        try self.host.attach(channel, address: endpoint.host, handshake: handshake, isInitiator: true, opened: promise)
                    } catch {
                        promise.fail(error)
                        throw error
                    }
                }
            }
        do {
            _ = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch let error as NetError {
            throw error
        } catch let error as NIOConnectionError {
            // The initializer's refusal (a bound) comes back wrapped.
            if let refusal = error.connectionErrors.lazy.compactMap({ $0.error as? NetError }).first { throw refusal }
            throw NetError(.io, "cannot connect to \(endpoint): \(error)", cause: error)
        } catch {
            throw NetError(.io, "cannot connect to \(endpoint): \(error)", cause: error)
        }
        guard let future = opened.future.withLock({ $0 }) else { preconditionFailure("connected without an initializer") }
        do {
            return try await future.get()
        } catch let error as NetError {
            throw error
        } catch {
            throw NetError(.io, "the session with \(endpoint) failed", cause: error)
        }
    }

    /// Opens a session with the node whose key is `nodeKey` through `relay`, a session with
    /// a relay (the coordinator) that node also has a session with: IK end to end inside
    /// the relay session, so the relay carries only sealed records. Works whether or not
    /// either node listens.
    public func connect(to nodeKey: [UInt8], through relay: Session) async throws(NetError) -> Session {
        let handshake = try SessionHandshake(initiator: identity, peerNodeKey: nodeKey)
        let promise = relay.eventLoop.makePromise(of: Session.self)
        let outer = relay.handler
        relay.eventLoop.execute { outer.value.openCircuit(to: nodeKey, handshake: handshake, opened: promise) }
        do {
            return try await promise.futureResult.get()
        } catch let error as NetError {
            throw error
        } catch {
            throw NetError(.io, "the relayed session failed", cause: error)
        }
    }

    /// Closes the listeners and every session (their delegates hear `closedLocally`).
    public func shutdown() async {
        let channels = host.registry.shutDown() + listeners.withLock { l in
            defer { l = [] }
            return l
        }
        for channel in channels {
            try? await channel.close()
        }
    }
}

/// Counters of a `SessionHost`.
public struct TransportStatistics: Sendable, Equatable {
    public let sessionsOpen: Int
    /// Sessions dropped for an error, a timeout or a bound.
    public let sessionsDropped: Int
    /// Connections refused by the session bounds.
    public let sessionsRefused: Int
    public let datagramsReceived: Int
    /// Datagrams of the wrong size, for no session, that did not open, or replayed.
    public let datagramsDropped: Int
    /// Bytes queued for peers and not yet taken by their sockets.
    public let bufferedBytes: Int
    /// Bytes this host relayed between other sessions (a relay only).
    public let relayedBytes: Int
}

private final class OpenedBox: Sendable {
    let future = Mutex<EventLoopFuture<Session>?>(nil)
}
