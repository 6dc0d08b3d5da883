import CairnCrypto
import NIOCore
import Synchronization

/// What a host's sessions share: admission (total and per address), the datagram ids that
/// route UDP to sessions, the unsent-bytes budget, and counters. Locked; touched once per
/// session start and end, per datagram, and per write.
final class SessionRegistry: Sendable {
    private struct State {
        var sessions = 0
        var perAddress: [String: Int] = [:]
        var datagramRoutes: [UInt64: Session] = [:]
        /// The latest open session with each peer node key (what a relay splices to).
        var byPeer: [[UInt8]: Session] = [:]
        var channels: [ObjectIdentifier: any Channel] = [:]
        var shuttingDown = false
    }

    private let state = Mutex(State())
    let configuration: TransportConfiguration
    /// Unsent bytes over all sessions.
    let buffered = Atomic<Int>(0)
    let datagramsDropped = Atomic<Int>(0)
    let datagramsReceived = Atomic<Int>(0)
    let sessionsDropped = Atomic<Int>(0)
    let sessionsRefused = Atomic<Int>(0)

    init(configuration: TransportConfiguration) {
        self.configuration = configuration
    }

    /// Takes a place for a session with `address`, or says why there is none.
    func admit(_ channel: any Channel, address: String) -> NetError? {
        state.withLock { s -> NetError? in
            guard !s.shuttingDown else { return NetError(.io, "the host is shutting down") }
            guard s.sessions < configuration.sessionsMax else {
                return NetError(.overloaded, "\(s.sessions) sessions are open, the most this host allows")
            }
            let here = s.perAddress[address, default: 0]
            guard here < configuration.sessionsPerAddressMax else {
                return NetError(.overloaded, "\(here) sessions with \(address) are open, the most this host allows per address")
            }
            s.sessions += 1
            s.perAddress[address] = here + 1
            s.channels[ObjectIdentifier(channel)] = channel
            return nil
        }
    }

    func release(_ channel: any Channel, address: String, datagramID: UInt64) {
        state.withLock { s in
            guard s.channels.removeValue(forKey: ObjectIdentifier(channel)) != nil else { return }
            s.sessions -= 1
            let here = s.perAddress[address, default: 1] - 1
            s.perAddress[address] = here == 0 ? nil : here
            if let session = s.datagramRoutes.removeValue(forKey: datagramID), s.byPeer[session.peer.nodePublicKey] === session {
                s.byPeer[session.peer.nodePublicKey] = nil
            }
        }
    }

    /// A fresh random id for a session's datagrams, not used by another session here.
    func newDatagramID() -> UInt64 {
        while true {
            let bytes = SecureRandom.bytes(8)
            let id = bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let taken = state.withLock { $0.datagramRoutes[id] != nil }
            if !taken { return id }
        }
    }

    func route(_ id: UInt64, to session: Session) {
        state.withLock {
            $0.datagramRoutes[id] = session
            $0.byPeer[session.peer.nodePublicKey] = session
        }
    }

    func session(withPeer nodeKey: [UInt8]) -> Session? {
        state.withLock { $0.byPeer[nodeKey] }
    }

    func session(forDatagram id: UInt64) -> Session? {
        state.withLock { $0.datagramRoutes[id] }
    }

    /// Refuses new sessions and returns the channels of those still open.
    func shutDown() -> [any Channel] {
        state.withLock { s in
            s.shuttingDown = true
            return Array(s.channels.values)
        }
    }

    var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }

    var openSessions: Int { state.withLock { $0.sessions } }
}
