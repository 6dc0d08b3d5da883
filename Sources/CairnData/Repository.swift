import CairnCrypto
import Foundation
public import Logging

/// A person's backups as this device sees them: keys from the data directory, the local
/// index, and the targets. Backup, restore, check and listing all start here.
public final class Repository: @unchecked Sendable {
    public let dataDirectory: DataDirectory
    public let keys: OwnerKeys
    public let state: LocalState
    public private(set) var config: RepositoryConfig
    /// Where the engine reports what it does (never a phrase, key or file content).
    public let logger: Logger

    public init(dataDirectory: DataDirectory, logger: Logger = Logger(label: "cairn.data", factory: { _ in SwiftLogNoOpLogHandler() })) throws(DataError) {
        self.dataDirectory = dataDirectory
        self.logger = logger
        keys = try dataDirectory.loadKeys()
        state = try LocalState(path: dataDirectory.statePath)
        config = try dataDirectory.loadConfig()
    }

    public func saveConfig(_ new: RepositoryConfig) throws(DataError) {
        try dataDirectory.saveConfig(new)
        config = new
    }

    /// Targets given on the command line, or those remembered.
    public func targetPaths(_ given: [String]?) throws(DataError) -> [String] {
        if let given, !given.isEmpty { return given.map { URL(fileURLWithPath: $0).standardizedFileURL.path } }
        guard !config.targets.isEmpty else {
            throw DataError(.invalidArgument, "no targets known for this data directory: name them with --to DIR1,...,DIRn (backup) or --from DIR1,...,DIRn")
        }
        return config.targets
    }

    /// The newest root record among the local index and every reachable target (highest
    /// sequence wins; a copy that does not verify is skipped and reported). A target
    /// whose root record is another owner's is taken out of the set (its shards are not
    /// ours to read or overwrite); only when every root record found is another owner's
    /// is that the error (the phrase is probably wrong).
    public func currentRoot(targets: TargetSet) throws(DataError) -> (root: RootRecord?, problems: [String]) {
        let local = try state.root()
        var best = local
        var problems: [String] = []
        var foreign: DataError?
        for (position, path) in targets.paths.enumerated() {
            guard let slot = targets.slot(ofPosition: position), let t = targets.target(forShard: slot) else { continue }
            do {
                guard let env = try t.readRoot() else { continue }
                let r = try RootEnvelope.open(env, keys: keys)
                if r.sequence > (best?.sequence ?? 0) || best == nil { best = r }
            } catch {
                if error.code == .wrongOwner {
                    foreign = foreign ?? error
                    targets.exclude(position: position, because: DataError(.wrongOwner, "target \(path) belongs to another owner: it is left alone", cause: error))
                    logger.warning("target.foreign", metadata: ["target.path": "\(path)"])
                    continue
                }
                problems.append("target \(path): \(error.message)")
            }
        }
        if best == nil, let foreign { throw foreign }
        if let best, local?.sequence != best.sequence {
            // Learned from the targets (after a recovery, or another device's backup).
            try state.importPacks(best.packs)
            try state.saveRoot(best)
        }
        return (best, problems)
    }

    /// Finds a snapshot by id prefix, or the newest for "latest".
    public static func select(_ wanted: String, in root: RootRecord) throws(DataError) -> SnapshotRecord {
        guard !root.snapshots.isEmpty else { throw DataError(.notFound, "there are no snapshots yet") }
        // Snapshots are appended in the order they were made; clocks may go backwards.
        if wanted == "latest" { return root.snapshots[root.snapshots.count - 1] }
        let matches = root.snapshots.filter { $0.id.hasPrefix(wanted.lowercased()) }
        guard matches.count == 1 else {
            if matches.isEmpty { throw DataError(.notFound, "no snapshot \(wanted): `cairn snapshots` lists them") }
            throw DataError(.invalidArgument, "\(wanted) matches \(matches.count) snapshots: give more of the id")
        }
        return matches[0]
    }

    /// Loads a snapshot's tree: from the local cache, else from the packs on the targets.
    func loadTree(_ snapshot: SnapshotRecord, reader: PackReader) throws(DataError) -> [TreeEntry] {
        var blob = try state.cachedTree(snapshot)
        if blob == nil {
            var b: [UInt8] = []
            for ref in snapshot.tree { b += try reader.chunk(ref, key: keys.snapshotKey) }
            blob = b
            try? state.cacheTree(snapshot, b)
        }
        do {
            return try TreeCodec.decode(blob!)
        } catch {
            throw DataError(.corrupt, "the tree of snapshot \(snapshot.id) is damaged", cause: error)
        }
    }
}
