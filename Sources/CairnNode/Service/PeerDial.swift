import CairnNet
import Logging

extension Endpoint {
    /// Where a `located` answer says a peer listens; nil when it named no address (it is
    /// reached only through the relay).
    init?(advertisedHost host: String, port: UInt16) {
        guard !host.isEmpty, port != 0 else { return nil }
        self.init(host: host, port: Int(port))
    }
}

extension SessionHost {
    /// Opens a session to the peer with node key `key`: at its address when it gave one,
    /// else — or when that address does not answer (a peer behind a NAT or a firewall that
    /// lets it connect only outward) — through the coordinator's relay, where the end-to-end
    /// IK session keeps the relay to ciphertext. The node and the restore client dial the
    /// same way.
    func dialPeer(key: [UInt8], at endpoint: Endpoint?, relay: Session?, logger: Logger) async throws(NetError) -> Session {
        if let endpoint {
            do {
                return try await connect(to: endpoint, expecting: key)
            } catch {
                guard let relay else { throw error }
                logger.info("peer's address does not answer; trying the relay", metadata: ["at": "\(endpoint)", "error": "\(error)"])
                return try await connect(to: key, through: relay)
            }
        }
        guard let relay else { throw NetError(.io, "the peer gives no address and there is no relay to reach it through") }
        return try await connect(to: key, through: relay)
    }
}
