import Foundation

/// The targets a command was given, arranged by the shard index each one holds (its
/// shards' keys and headers say which), not by their order: `--from` may name any subset
/// in any order, and drives mounted at each other's paths still restore.
///
/// A target that cannot be used (missing, not a folder, damaged, of another owner, a
/// second copy of a target already in the set) is left out with the reason kept in
/// `problems`, so restores and checks go on with the rest.
public final class TargetSet: @unchecked Sendable {
    /// A target that opened, with what its store says about itself.
    public struct Member {
        public let position: Int
        public let target: LocalTarget
        /// The shard index it holds (nil: no shards yet).
        public let index: Int?
        /// The repository its metadata or first shard names (nil: not known).
        public let repository: RepositoryID?
    }

    /// The folders as given, in order.
    public let paths: [String]
    /// Every target that opened, in the order given (also those left out since).
    public private(set) var members: [Member] = []
    /// By shard index: the target holding shard i of every pack, if one of them does.
    public private(set) var targets: [LocalTarget?] = []
    /// By position in `paths`: why that target is not in use.
    public private(set) var problems: [Int: DataError] = [:]
    /// What was noticed and is fine (a target found at another target's path, a target
    /// read without its store lock).
    public private(set) var notes: [String] = []
    public let access: LocalTarget.Access
    /// The repository these targets are used for, once the command knows it: shards of
    /// another repository are not read as its own.
    public internal(set) var repository: RepositoryID?

    /// Targets that could not be opened, and those taken out of use (another owner's,
    /// another repository's), by position.
    private var unopened: [Int: DataError] = [:]
    private var excluded: [Int: DataError] = [:]
    /// Targets used without their store lock (`LocalTarget.lockWarning`), kept in `notes`.
    private var lockNotes: [String] = []
    /// n when the paths are the repository's own list; nil for a `--from` subset.
    private let count: Int?

    /// Shard indices known: n when the targets were remembered, else the highest found.
    public var n: Int { targets.count }
    public var available: Int { targets.count { $0 != nil } }

    /// The shard index of the target at `paths[position]`, when it is in use.
    public func slot(ofPosition position: Int) -> Int? {
        targets.firstIndex { $0?.path == paths[position] }
    }

    /// The target holding shard `index`, if any.
    public func target(forShard index: Int) -> LocalTarget? {
        index < targets.count ? targets[index] : nil
    }

    /// Opens every target. `count` is n when the paths are the repository's own list (an
    /// empty target then takes the index of its position); nil for a `--from` subset.
    /// With `.create`, missing folders are created and any failure is an error (a first
    /// backup must reach all n). Two paths that are one folder (`X`, `X/`, `./X`, a
    /// symlink to X) are an error before anything is opened or created.
    ///
    /// With `repository` (the one the data directory knows), a target whose metadata or
    /// first shard names another is left out from the start, so it never takes the place
    /// of one of this repository's targets.
    public init(paths: [String], access: LocalTarget.Access, count: Int? = nil, repository: RepositoryID? = nil) throws(DataError) {
        try Self.refuseAliases(paths)
        self.paths = paths
        self.access = access
        self.count = count
        self.repository = repository
        for (position, p) in paths.enumerated() {
            do {
                let t = try LocalTarget(path: p, access: access)
                if let w = t.lockWarning { lockNotes.append(w) }
                let (index, repository) = try t.identity()
                members.append(Member(position: position, target: t, index: index, repository: repository))
                if let theirs = repository, let ours = self.repository, theirs != ours {
                    excluded[position] = Self.foreignRepository(p, theirs, nil, ours: ours)
                }
            } catch {
                if access == .create { throw DataError(.targetUnavailable, "target \(position + 1) (\(p)) cannot be used", cause: error) }
                unopened[position] = error
            }
        }
        arrange()
    }

    /// Gives each member in use its shard index: targets that say which shards they hold
    /// first, those at their own position first of all (so a copy elsewhere is the one
    /// left out), then empty ones at their position.
    private func arrange() {
        let inUse = members.filter { excluded[$0.position] == nil }
        let highest = inUse.compactMap(\.index).max().map { $0 + 1 } ?? 0
        var slots = [LocalTarget?](repeating: nil, count: max(count ?? 0, highest))
        var problems = unopened.merging(excluded) { a, _ in a }
        var notes: [String] = []
        let ordered = inUse.filter { $0.index != nil }.sorted {
            ($0.index == $0.position ? 0 : 1, $0.position) < ($1.index == $1.position ? 0 : 1, $1.position)
        }
        for m in ordered {
            guard let index = m.index else { continue }
            if let holder = slots[index] {
                problems[m.position] = DataError(.targetUnavailable, "target \(m.target.path) holds shard \(index + 1) of every pack, as \(holder.path) does: it is a copy of that target and is not used")
                continue
            }
            slots[index] = m.target
            if count != nil, index != m.position {
                notes.append("target \(m.target.path) holds shard \(index + 1) of every pack although it is listed as target \(m.position + 1) (drives mounted at each other's places?): it is used as the target it is")
            }
        }
        for m in inUse where m.index == nil {
            if m.position < slots.count, slots[m.position] == nil, count != nil {
                slots[m.position] = m.target
            } else if count != nil {
                problems[m.position] = DataError(.targetUnavailable, "target \(m.target.path) holds no shards and its place is taken by another target: it is not used")
            } else {
                problems[m.position] = DataError(.targetUnavailable, "target \(m.target.path) holds no shards yet: it has nothing to restore from")
            }
        }
        self.targets = slots
        self.problems = problems
        self.notes = lockNotes + notes
    }

    /// Every problem, in the order the targets were given (each message names its target).
    public var problemLines: [String] {
        problems.sorted { $0.key < $1.key }.map { "skipped a target: \($0.value.oneLine)" }
    }

    /// Takes the target at `position` out of use (its root record is another owner's or
    /// another repository's, say); a target it displaced as a copy gets its place back.
    public func exclude(position: Int, because error: DataError) {
        excluded[position] = error
        arrange()
    }

    /// Why a target of another repository is not used, and what to do about it.
    static func foreignRepository(_ path: String, _ theirs: RepositoryID, _ record: RootRecord?, ours: RepositoryID?) -> DataError {
        let what = record.map { ": \(Repository.describe($0))" } ?? ""
        let mine = ours.map { "this data directory's (\($0))" } ?? "this data directory's (made before repositories had ids)"
        return DataError(.foreignRepository, "target \(path) holds another repository (\(theirs)\(what)), not \(mine): it is left alone, nothing is read from or written to it. Put this repository's drive there; or, if that folder is really to be replaced, move it away and `cairn check` re-creates the target; to use repository \(theirs), give --repository \(theirs) with a data directory of its own")
    }

    /// Whether the target at `position` was taken out of use by `exclude`.
    public func isExcluded(_ position: Int) -> Bool { excluded[position] != nil }

    /// How many shards of each pack the targets in use hold (by key, at their own index).
    func shardCounts() throws(DataError) -> [PackID: Int] {
        var counts: [PackID: Int] = [:]
        for (slot, t) in targets.enumerated() {
            guard let t else { continue }
            for key in try t.shardKeys() where key.index == slot { counts[key.pack, default: 0] += 1 }
        }
        return counts
    }

    /// Replaces the unusable target at `position` by a fresh, empty one at the same path,
    /// holding shard `slot` from now on. A damaged store is moved aside, never deleted, so
    /// nothing is lost, and never while another command has it open (`.busy`). A folder
    /// that looks like a drive's empty mount point is refused.
    public func recreate(position: Int, slot: Int) throws(DataError) -> LocalTarget {
        let path = paths[position]
        try Self.refuseBareMountPoint(path)
        let data = path + "/data.mdb"
        var st = stat()
        if lstat(data, &st) == 0 {
            // Moving the store aside replaces it as a compaction does: not under another
            // command that has it open (`StoreLock`). Released before the new store is
            // opened, which takes the lock shared.
            guard let moving = try StoreLock.exclusive(folder: path) else {
                throw DataError(.busy, "the damaged store \(data) is open in another cairn process (a restore, `snapshots` …), so it is not moved aside now: run `cairn check` again when that command has finished")
            }
            let aside = path + "/data.mdb.damaged-\(Int(Date().timeIntervalSince1970))"
            guard rename(data, aside) == 0 else {
                throw DataError(.io, "cannot move the damaged store \(data) aside to \(aside): \(String(cString: strerror(errno)))")
            }
            let lock = path + "/lock.mdb"
            if lstat(lock, &st) == 0 { _ = rename(lock, aside + ".lock") }
            withExtendedLifetime(moving) {}
        }
        let t = try LocalTarget(path: path, access: .create)
        members.removeAll { $0.position == position }
        members.append(Member(position: position, target: t, index: slot, repository: nil))
        unopened[position] = nil
        excluded[position] = nil
        arrange()
        return t
    }

    // MARK: checks before anything is created

    /// Two given paths naming one folder would put two shards of every pack on one drive.
    static func refuseAliases(_ paths: [String]) throws(DataError) {
        var seen: [String: String] = [:]
        for p in paths {
            let identity = folderIdentity(p)
            if let first = seen[identity] {
                throw DataError(.invalidArgument, "\(first) and \(p) are the same folder: each target must be a different folder (and a different drive)")
            }
            seen[identity] = p
        }
    }

    /// Device and inode for what exists (so links and `..` meet), else the real path of
    /// the nearest existing parent followed by the rest.
    static func folderIdentity(_ path: String) -> String {
        var st = stat()
        if stat(path, &st) == 0 { return "inode \(st.st_dev):\(st.st_ino)" }
        var rest: [String] = []
        var current = URL(fileURLWithPath: path).standardizedFileURL.path
        while current != "/" && !current.isEmpty {
            if let real = realpath(current, nil) {
                defer { free(real) }
                return "path " + ([String(cString: real)] + rest.reversed()).joined(separator: "/")
            }
            rest.append((current as NSString).lastPathComponent)
            current = (current as NSString).deletingLastPathComponent
        }
        return "path /" + rest.reversed().joined(separator: "/")
    }

    /// Re-creating a target where a drive should be mounted would fill the system disk
    /// instead, so it is refused when the target is at or under a mount point of
    /// /etc/fstab that has nothing mounted on it, or when the target folder is missing
    /// from an empty folder on its parent's file system (a bare mount point). An empty
    /// target folder someone made is filled.
    static func refuseBareMountPoint(_ path: String) throws(DataError) {
        let folder = URL(fileURLWithPath: path).standardizedFileURL.path
        let mounted = Set(mountPoints(table: "/proc/self/mounts"))
        var ancestor = folder
        while !ancestor.isEmpty && ancestor != "/" {
            if configuredMountPoints.contains(ancestor) && !mounted.contains(ancestor) {
                throw DataError(.targetUnavailable, "\(ancestor) is a mount point in /etc/fstab with nothing mounted on it: mount the drive and run the command again (the target \(path) is not re-created on the system disk)")
            }
            ancestor = (ancestor as NSString).deletingLastPathComponent
        }
        var st = stat()
        guard lstat(folder, &st) != 0 else { return }
        let parent = (folder as NSString).deletingLastPathComponent
        guard parent != "/", isEmptyFolder(parent), sameDevice(parent, (parent as NSString).deletingLastPathComponent) else { return }
        throw DataError(.targetUnavailable, "the target \(path) is missing from \(parent), an empty folder on the same file system as its parent, like the mount point of a drive that is not mounted: mount the drive and run the command again; if a new target is really meant to go there, create the folder \(folder) first")
    }

    private static let configuredMountPoints = Set(mountPoints(table: "/etc/fstab"))

    /// The second field of every line of an fstab-format table (octal escapes undone).
    private static func mountPoints(table: String) -> [String] {
        guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, !fields[0].hasPrefix("#") else { return nil }
            let point = String(fields[1]).replacingOccurrences(of: "\\040", with: " ").replacingOccurrences(of: "\\011", with: "\t")
            return point == "/" ? nil : URL(fileURLWithPath: point).standardizedFileURL.path
        }
    }

    private static func isEmptyFolder(_ path: String) -> Bool {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: path) else { return false }
        return entries.isEmpty
    }

    private static func sameDevice(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev
    }
}
