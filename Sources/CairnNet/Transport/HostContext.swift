import Logging
import NIOCore
import Synchronization

/// What every session of one host shares: its delegate, bounds, registry, logger and UDP socket.
final class HostContext: Sendable {
    let configuration: TransportConfiguration
    let registry: SessionRegistry
    let delegate: any SessionDelegate
    let logger: Logger
    private let udp = Mutex<(channel: (any Channel)?, port: UInt16)>((nil, 0))

    init(configuration: TransportConfiguration, delegate: any SessionDelegate, logger: Logger) {
        self.configuration = configuration
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
}
