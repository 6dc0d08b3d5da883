import CairnStore
import Foundation

/// Giving a target's space back. LMDB reuses the pages of deleted shards but never
/// shrinks its file, so after a prune deletes shards the store is copied, compacted, into
/// a new file that is renamed over `data.mdb`. A marker file says a compaction is owed:
/// it is written before the first shard is deleted and removed after the rename, so a
/// prune killed in between compacts on the next run.
extension LocalTarget {
    static let compactionMarker = "cairn-compact-pending"

    /// Size in bytes of a target's store file (0 if there is none).
    public static func storeFileSize(path: String) -> UInt64 {
        var st = stat()
        return stat(path + "/data.mdb", &st) == 0 ? UInt64(st.st_size) : 0
    }

    /// Deletes every shard of the packs `remove` names, in one transaction; returns how
    /// many. Owes a compaction first (see above).
    public func removeShards(ofPacks remove: (PackID) -> Bool) throws(DataError) -> Int {
        let doomed = try shardKeys().filter { remove($0.pack) }
        guard !doomed.isEmpty else { return 0 }
        try Self.writeDurably(path + "/" + Self.compactionMarker)
        try deleteShards(doomed)
        return doomed.count
    }

    /// What `compactIfOwed` did.
    public enum Compaction: Sendable, Equatable {
        /// No compaction was owed.
        case notOwed
        case compacted
        /// Another command still had the store open (`StoreLock`) after the wait: the
        /// compaction stays owed, and the next prune does it.
        case deferred(reason: String)
    }

    /// Replaces the store of the target at `path` by a compacted copy if a compaction is
    /// owed. No handle on this store may be open in this process, and the caller holds the
    /// target's lock. From the copy to the rename it holds the store lock exclusively,
    /// waiting up to `wait` seconds (nil: `CAIRN_LOCK_WAIT`, else 30) for the commands that have the store open (a restore,
    /// `snapshots`) to finish; if they do not, the compaction is left for the next prune.
    public static func compactIfOwed(path: String, wait: Double? = nil) throws(DataError) -> Compaction {
        let wait = wait ?? StoreLock.defaultWait
        let marker = path + "/" + compactionMarker
        guard FileManager.default.fileExists(atPath: marker) else { return .notOwed }
        guard let lock = try StoreLock.exclusive(folder: path, wait: wait) else {
            return .deferred(reason: "target \(path) is open in another cairn process (a restore, `snapshots`, `check` …) that did not finish within \(StoreLock.seconds(wait)): its file keeps its size for now; run `cairn prune` again later to give the space back")
        }
        defer { withExtendedLifetime(lock) {} }
        let copy = path + "/data.mdb.compacting"
        unlink(copy)
        do {
            let env = try LMDBEnvironment(path: path, mapSize: 1 << 40, maxDatabases: 4)
            try env.copyCompacted(toFile: copy)
        } catch {
            unlink(copy)
            throw DataError(.io, "could not compact the store of target \(path); the shards are deleted but the file keeps its size until the next `cairn prune`", cause: error)
        }
        // A fresh lock file for the new store: one left beside it would describe the old
        // file's transactions.
        unlink(path + "/lock.mdb")
        guard rename(copy, path + "/data.mdb") == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(copy)
            throw DataError(.io, "could not move the compacted store of target \(path) into place (\(reason)); run `cairn prune` again")
        }
        try syncFolder(path)
        unlink(marker)
        return .compacted
    }

    private static func writeDurably(_ file: String) throws(DataError) {
        let fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0, fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            if fd >= 0 { close(fd) }
            throw DataError(.io, "cannot write \(file) (\(reason)): check that the target is writable")
        }
        close(fd)
        try syncFolder((file as NSString).deletingLastPathComponent)
    }

    private static func syncFolder(_ folder: String) throws(DataError) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw DataError(.io, "cannot open \(folder) to flush it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw DataError(.io, "cannot flush \(folder): \(String(cString: strerror(errno)))") }
    }
}
