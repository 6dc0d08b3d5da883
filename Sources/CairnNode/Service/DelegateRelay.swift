import CairnCore
import CairnCrypto
import CairnNet
import Logging
import NIOCore
import NIOPosix

/// Lets a service own its `SessionHost` and be its delegate: the host wants its delegate
/// when it is made, before the service exists. Set `target` once, right after.
final class DelegateRelay: SessionDelegate, @unchecked Sendable {
    // Set once, before any session can open (the host listens and dials only later).
    weak var target: (any SessionDelegate)?

    func sessionOpened(_ session: Session) { target?.sessionOpened(session) }
    func session(_ session: Session, sinkFor message: Message, payloadBytes: UInt64) -> (any PayloadSink)? {
        target?.session(session, sinkFor: message, payloadBytes: payloadBytes)
    }
    func session(_ session: Session, received message: InboundMessage) { target?.session(session, received: message) }
    func session(_ session: Session, closed reason: SessionCloseReason) { target?.session(session, closed: reason) }
}

/// A service's sessions: its node key certified by `owner`, its event-loop threads (one
/// unless asked for more; `loop` is the first, where the service keeps its state), and the
/// host whose delegate the service becomes (`relay.target = service`).
struct ServiceSessions {
    let group: MultiThreadedEventLoopGroup
    let loop: any EventLoop
    let host: SessionHost
    let relay: DelegateRelay

    init(owner: SigningKey, nodeKey: SigningKey, transport: TransportConfiguration, threads: Int = 1, logger: Logger) throws(NodeError) {
        let identity: SessionIdentity
        do {
            let certificate = try NodeCertificate.issue(owner: owner, nodePublicKey: nodeKey.publicKey,
                                                        issuedMilliseconds: SystemClock().now.milliseconds)
            identity = try SessionIdentity(nodeKey: nodeKey, certificate: certificate)
        } catch {
            throw NodeError(.dataDirectory, "cannot certify this machine's node key with the owner's identity", cause: error)
        }
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        loop = group.next()
        relay = DelegateRelay()
        host = SessionHost(identity: identity, group: group, configuration: transport, delegate: relay, logger: logger)
    }
}
