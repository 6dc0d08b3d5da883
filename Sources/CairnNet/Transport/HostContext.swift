import Logging
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// What every session of one host shares: its delegate, bounds, registry, logger and UDP socket.
final class HostContext: Sendable {
    let identity: SessionIdentity
    let group: any EventLoopGroup
    let configuration: TransportConfiguration
    /// Set when this host relays.
    let relay: RelaySwitch?
    let registry: SessionRegistry
    let delegate: any SessionDelegate
    let logger: Logger
    private let udp = Mutex<(channel: (any Channel)?, port: UInt16)>((nil, 0))

    init(identity: SessionIdentity, group: any EventLoopGroup, configuration: TransportConfiguration, delegate: any SessionDelegate,
         logger: Logger)
    {
        self.identity = identity
        self.group = group
        self.configuration = configuration
        relay = configuration.relay.map { RelaySwitch(limits: $0) }
        registry = SessionRegistry(configuration: configuration)
        self.delegate = delegate
        self.logger = logger
    }

    var datagramChannel: (any Channel)? { udp.withLock { $0.channel } }
    /// The UDP port announced in hellos (0: none).
    var datagramPort: UInt16 { udp.withLock { $0.port } }

    func setDatagramChannel(_ channel: any Channel, port: Int) {
        udp.withLock { $0 = (channel, UInt16(port)) }
    }

    func dropDatagram(_ event: Logger.Message, reason: String) {
        registry.datagramsDropped.add(1, ordering: .relaxed)
        logger.debug(event, metadata: ["datagram.reason": "\(reason)"])
    }

    func attach(_ channel: any Channel, address: String, handshake: SessionHandshake, isInitiator: Bool,
                        opened: EventLoopPromise<Session>?) throws(NetError)
    {
        if let refusal = registry.admit(channel, address: address) {
            registry.sessionsRefused.add(1, ordering: .relaxed)
            logger.info("session.refused", metadata: ["peer.address": "\(address)", "error.message": "\(refusal.message)"])
            throw refusal
        }
        let handler = SessionHandler(host: self, loop: channel.eventLoop, handshake: handshake, isInitiator: isInitiator,
                                     address: address, opened: opened)
        do {
            try channel.pipeline.syncOperations.addHandler(handler)
        } catch {
            registry.release(channel, address: address, datagramID: 0)
            throw NetError(.io, "cannot set up the session with \(address)", cause: error)
        }
    }

    /// Starts a session over a relay circuit of `outer`: a local socket pair, one end an
    /// ordinary session channel, the other a `RelayBridgeHandler` that carries its bytes as
    /// relay frames. Both on the outer session's loop.
    func startRelayed(outer: NIOLoopBound<SessionHandler>, loop: any EventLoop, circuit: UInt32, address: String,
                      handshake: SessionHandshake, isInitiator: Bool, opened: EventLoopPromise<Session>?)
    {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            let error = NetError(.io, "cannot make a socket pair for a relayed session: \(String(cString: strerror(errno)))")
            opened?.fail(error)
            outer.value.closeCircuit(circuit, notifyPeer: true)
            return
        }
        ClientBootstrap(group: loop)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    do {
                        try self.attach(channel, address: address, handshake: handshake, isInitiator: isInitiator, opened: opened)
                    } catch {
                        opened?.fail(error)
                        throw error
                    }
                }
            }
            .withConnectedSocket(fds[0])
            .whenFailure { _ in outer.value.closeCircuit(circuit, notifyPeer: true) }
        ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RelayBridgeHandler(outer: outer, circuit: circuit))
                }
            }
            .withConnectedSocket(fds[1])
            .whenComplete { result in
                switch result {
                case let .success(channel): outer.value.bridgeReady(circuit, channel)
                case .failure: outer.value.closeCircuit(circuit, notifyPeer: true)
                }
            }
    }
}
