import CairnStore
import CairnWire

/// A service's own small LMDB store (`DIR/state`): its core's checkpoint and the few facts
/// beside it (its node number, the coordinator's pinned key, the directory of members).
/// Every write is one durable transaction, so a `kill -9` leaves either the old or the new
/// value, never half of one.
final class ServiceState: Sendable {
    let environment: LMDBEnvironment
    private let meta: LMDBDatabase

    init(path: String, access: LMDBEnvironment.Access = .readWrite) throws(NodeError) {
        do {
            environment = try LMDBEnvironment(path: path, mapSize: 1 << 34, maxDatabases: 4, durable: true, access: access)
            if access == .readOnly {
                guard let meta = try environment.openExistingDatabase("meta") else {
                    throw NodeError(.dataDirectory, "\(path) holds no service state yet: start the service first")
                }
                self.meta = meta
            } else {
                meta = try environment.openDatabase("meta")
            }
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError(.dataDirectory, "cannot open the service state in \(path): check the folder is yours and the disk is not full",
                            cause: error)
        }
    }

    func get(_ key: String) throws(NodeError) -> [UInt8]? {
        do {
            return try environment.read { txn in try txn.get(meta, Array(key.utf8)) }
        } catch {
            throw NodeError(.storage, "cannot read '\(key)' from \(environment.path)", cause: error)
        }
    }

    /// Writes every pair in one transaction.
    func put(_ pairs: [(String, [UInt8])]) throws(NodeError) {
        do {
            try environment.write { txn in
                for (key, value) in pairs { try txn.put(meta, Array(key.utf8), value) }
            }
        } catch {
            throw NodeError(.storage, "cannot write \(pairs.map(\.0)) to \(environment.path): is the disk full?", cause: error)
        }
    }
}
