import Foundation

/// A read-only view of the snapshots for `ls`, `find` and `diff`: the newest root record
/// of the reachable targets, and each snapshot's tree on demand (from the local cache,
/// else from any k targets). Writes nothing to the targets; holds each target's shared
/// store lock while it lives, so a prune cannot replace a store file under it.
public final class SnapshotBrowser {
    public let root: RootRecord
    /// Targets that could not be read (or are read without their lock) and root record
    /// copies that did not verify, to be shown as warnings.
    public let problems: [String]
    private let repository: Repository
    private let reader: PackReader

    init(repository: Repository, root: RootRecord, targets: TargetSet, problems: [String]) {
        self.repository = repository
        self.root = root
        self.problems = problems
        reader = PackReader(targets: targets, packs: root.packs)
    }

    /// A snapshot by id prefix or `latest`, as restore takes it.
    public func select(_ wanted: String) throws(DataError) -> SnapshotRecord {
        try Repository.select(wanted, in: root)
    }

    public func tree(_ snapshot: SnapshotRecord) throws(DataError) -> [TreeEntry] {
        try repository.loadTree(snapshot, reader: reader)
    }
}

extension Repository {
    public func browse(from: [String]? = nil) throws(DataError) -> SnapshotBrowser {
        let paths = try targetPaths(from)
        let targets = try openTargets(paths, access: .read, count: from == nil ? paths.count : nil)
        let (found, problems) = try currentRoot(targets: targets)
        guard let root = found else {
            let why = targets.problemLines + problems
            throw DataError(.notFound, "no root record found on any target, so there are no snapshots to look into\(why.isEmpty ? "" : ":\n  " + why.joined(separator: "\n  "))")
        }
        return SnapshotBrowser(repository: self, root: root, targets: targets, problems: targets.problemLines + targets.notes + problems)
    }
}

extension TreeEntry {
    /// True for the entry at `folder` and everything below it; every entry for "" (a
    /// folder given as `/home/me/` or `home/me` means the same).
    public func isAt(orBelow folder: String) -> Bool {
        let f = Array(TreeEntry.normalized(folder).utf8)
        return f.isEmpty || pathBytes == f || (pathBytes.count > f.count && pathBytes.starts(with: f) && pathBytes[f.count] == 0x2F)
    }

    /// A path as the user gives it, in the stored form: no leading or trailing '/'.
    public static func normalized(_ path: String) -> String {
        var s = Substring(path)
        while s.hasPrefix("/") { s.removeFirst() }
        while s.hasSuffix("/") { s.removeLast() }
        return String(s)
    }

    /// The last component of the path.
    public var nameBytes: ArraySlice<UInt8> {
        guard let slash = pathBytes.lastIndex(of: 0x2F) else { return pathBytes[...] }
        return pathBytes[(slash + 1)...]
    }

    /// True when `pattern` matches the entry's name (or, with a '/', its absolute path),
    /// byte for byte as the file system has them.
    public func matches(_ pattern: ExcludePattern) -> Bool {
        pattern.matches(path: [0x2F] + pathBytes, name: Array(nameBytes))
    }
}

/// How one path differs between two snapshots.
public struct TreeChange: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// Only in the newer snapshot.
        case added
        /// Only in the older snapshot.
        case removed
        /// Other content: a file's chunks or size, a symlink's target.
        case changed
        /// A file became a folder, a folder a symlink, …
        case type
        /// Same content, other mode, owner or modification time.
        case metadata
    }

    /// The path as stored: bytes, which need not be UTF-8.
    public var pathBytes: [UInt8]
    public var kind: Kind
    /// For `.metadata` and `.changed`: which of "mode", "owner", "mtime" differ as well.
    public var metadata: [String]

    /// The path to show a person, escaped as `TreeEntry.path` is.
    public var path: String { NameBytes.display(pathBytes) }

    public init(pathBytes: [UInt8], kind: Kind, metadata: [String]) {
        self.pathBytes = pathBytes
        self.kind = kind
        self.metadata = metadata
    }

    public init(path: String, kind: Kind, metadata: [String]) {
        self.init(pathBytes: Array(path.utf8), kind: kind, metadata: metadata)
    }
}

public enum TreeDiff {
    /// Every path that differs between `old` and `new`, in path order. Content is compared
    /// by chunk ids, not by where the chunks are stored (a prune moves them).
    public static func compare(_ old: [TreeEntry], _ new: [TreeEntry]) -> [TreeChange] {
        let before = Dictionary(old.map { ($0.pathBytes, $0) }, uniquingKeysWith: { a, _ in a })
        let after = Dictionary(new.map { ($0.pathBytes, $0) }, uniquingKeysWith: { a, _ in a })
        var changes: [TreeChange] = []
        for path in before.keys where after[path] == nil { changes.append(TreeChange(pathBytes: path, kind: .removed, metadata: [])) }
        for (path, b) in after {
            guard let a = before[path] else {
                changes.append(TreeChange(pathBytes: path, kind: .added, metadata: []))
                continue
            }
            var meta: [String] = []
            if a.mode != b.mode { meta.append("mode") }
            if a.owner != b.owner { meta.append("owner") }
            if a.mtimeSeconds != b.mtimeSeconds || a.mtimeNanoseconds != b.mtimeNanoseconds { meta.append("mtime") }
            if a.kind != b.kind {
                changes.append(TreeChange(pathBytes: path, kind: .type, metadata: meta))
            } else if a.size != b.size || a.linkTargetBytes != b.linkTargetBytes || !a.chunks.map(\.id).elementsEqual(b.chunks.map(\.id)) {
                changes.append(TreeChange(pathBytes: path, kind: .changed, metadata: meta))
            } else if !meta.isEmpty {
                changes.append(TreeChange(pathBytes: path, kind: .metadata, metadata: meta))
            }
        }
        return changes.sorted { $0.pathBytes.lexicographicallyPrecedes($1.pathBytes) }
    }
}
