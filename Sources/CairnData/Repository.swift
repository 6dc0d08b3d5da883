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
    /// The repository the user named (`--repository`: an id or a prefix of one), for a
    /// data directory that does not know its own yet and targets of several.
    public var repositoryChoice: String?

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

    /// The newest root record of this repository among the local index and every
    /// reachable target (highest sequence wins; a copy that does not verify is skipped
    /// and reported). A target whose root record is another owner's, or which belongs to
    /// another repository of this owner, is taken out of the set (its shards are not ours
    /// to read or overwrite); only when every root record found is another owner's is
    /// that the error (the phrase is probably wrong). A copy whose owner key does not
    /// match but which is this repository's (its payload opens with our keys and names
    /// this repository, or the target's metadata does) is damage: reported, repaired by
    /// `check` like any damaged copy, never "another owner's". Which repository is this
    /// data directory's is settled here too (`resolveRepository`).
    public func currentRoot(targets: TargetSet) throws(DataError) -> (root: RootRecord?, problems: [String]) {
        let local = try state.root()
        var problems: [String] = []
        var found: [(member: TargetSet.Member, record: RootRecord)] = []
        // Copies whose owner key is not ours, with the record inside when it still opens
        // with our keys (then it is ours, damaged).
        var otherKey: [(member: TargetSet.Member, sealed: RootRecord?, error: DataError)] = []
        for m in targets.members where !targets.isExcluded(m.position) {
            do throws(DataError) {
                guard let env = try m.target.readRoot() else { continue }
                do throws(DataError) {
                    found.append((m, try RootEnvelope.open(env, keys: keys)))
                } catch {
                    guard error.code == .wrongOwner else { throw error }
                    otherKey.append((m, RootEnvelope.recordDespiteOwnerKey(env, keys: keys), error))
                }
            } catch {
                problems.append("target \(m.target.path): \(error.message)")
            }
        }
        let ours = try resolveRepository(
            found: found.map { ($0.member.target.path, $0.record) },
            recorded: targets.members
                .filter { m in !targets.isExcluded(m.position) && !otherKey.contains { $0.member.position == m.position && $0.sealed == nil } }
                .map { m in (m.target.path, otherKey.first { $0.member.position == m.position }?.sealed?.repository ?? m.repository) },
            local: local, problems: &problems)
        targets.repository = ours
        var foreign: DataError?
        for (m, record, error) in otherKey {
            let path = m.target.path
            if let record, record.repository != ours, let theirs = record.repository {
                targets.exclude(position: m.position, because: TargetSet.foreignRepository(path, theirs, nil, ours: ours))
                logger.info("target.foreign-repository", metadata: ["target.path": "\(path)", "repository": "\(theirs)"])
            } else if record != nil || (ours != nil && m.repository == ours) {
                problems.append("target \(path): its root record is damaged (the owner key in it is not this identity's, but the target is this repository's): the other targets' copy is used; `cairn check` rewrites it")
                logger.warning("target.root-owner-key-damaged", metadata: ["target.path": "\(path)"])
            } else {
                foreign = foreign ?? error
                targets.exclude(position: m.position, because: DataError(.wrongOwner, "target \(path) belongs to another owner: it is left alone", cause: error))
                logger.warning("target.foreign", metadata: ["target.path": "\(path)"])
            }
        }
        for m in targets.members where !targets.isExcluded(m.position) {
            let record = found.first { $0.member.position == m.position }?.record
            guard let theirs = record?.repository ?? m.repository, theirs != ours else { continue }
            targets.exclude(position: m.position, because: TargetSet.foreignRepository(m.target.path, theirs, record, ours: ours))
            logger.info("target.foreign-repository", metadata: ["target.path": "\(m.target.path)", "repository": "\(theirs)"])
        }
        // Records of this repository; those of version 1 and 2 ("repository unknown")
        // only while no record carries its id: once it has one, every record it publishes
        // carries it, so an older record without one is never the newest.
        let ownLocal = local.flatMap { $0.repository == nil || $0.repository == ours ? $0 : nil }
        let remaining = found.filter { !targets.isExcluded($0.member.position) }.map(\.record) + (ownLocal.map { [$0] } ?? [])
        let identified = remaining.filter { $0.repository != nil }
        let best = (identified.isEmpty ? remaining : identified).max { $0.sequence < $1.sequence }
        if best == nil, let foreign { throw foreign }
        if let best, local?.sequence != best.sequence || local?.repository != best.repository {
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
