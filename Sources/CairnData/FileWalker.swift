import Foundation

/// One thing found while walking the backup roots, with what `lstat` said of it.
public struct WalkedItem: Sendable {
    public var entry: TreeEntry
    /// Absolute path on this machine.
    public var sourcePath: String
}

/// Walks the backup roots depth-first in byte order of names, so the same tree always
/// gives the same snapshot. Sockets, FIFOs and devices are skipped with a warning, as
/// are entries that vanish or cannot be read; the walk goes on.
public struct FileWalker {
    public private(set) var warnings: [String] = []

    /// Records something the caller noticed about a walked entry (read later).
    mutating func note(_ warning: String) { warnings.append(warning) }

    public init() {}

    /// The stored name of a root: its absolute, normalised path without the leading '/'.
    public static func storedName(forRoot root: String) -> String {
        var p = URL(fileURLWithPath: root).standardizedFileURL.path
        while p.hasPrefix("/") { p.removeFirst() }
        return p
    }

    /// Absolute paths never backed up (the data directory and the targets themselves, so
    /// a backup of a home folder that holds them does not feed on its own output).
    public var excluded: Set<String> = []
    /// The user's `--exclude` patterns; what they match is left out silently.
    public var patterns: [ExcludePattern] = []
    /// Entries left out by `patterns` (an excluded folder counts once).
    public private(set) var excludedByPattern = 0

    public mutating func walk(roots: [String]) throws(DataError) -> [WalkedItem] {
        var items: [WalkedItem] = []
        for root in roots {
            let abs = URL(fileURLWithPath: root).standardizedFileURL.path
            var st = stat()
            guard lstat(abs, &st) == 0 else {
                throw DataError(.notFound, "cannot back up \(root): \(String(cString: strerror(errno)))")
            }
            let name = Self.storedName(forRoot: abs)
            guard !name.isEmpty else {
                throw DataError(.invalidArgument, "backing up / as a whole is not supported yet: name the folders under it")
            }
            visit(abs, stored: name, st: st, into: &items)
        }
        return items
    }

    private mutating func visit(_ path: String, stored: String, st: stat, into items: inout [WalkedItem]) {
        if excluded.contains(path) {
            warnings.append("skipped \(path): it is Cairn's own data directory or a backup target")
            return
        }
        if !patterns.isEmpty {
            let name = (path as NSString).lastPathComponent
            if patterns.contains(where: { $0.matches(path: path, name: name) }) {
                excludedByPattern += 1
                return
            }
        }
        let type = st.st_mode & S_IFMT
        let base = TreeEntry(
            kind: .file, path: stored, mode: UInt32(st.st_mode & 0o7777),
            owner: TreeEntry.Owner(uid: UInt32(st.st_uid), gid: UInt32(st.st_gid)),
            mtimeSeconds: Int64(st.st_mtim.tv_sec), mtimeNanoseconds: UInt32(st.st_mtim.tv_nsec),
            size: 0, device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        switch type {
        case S_IFREG:
            var e = base
            e.size = UInt64(st.st_size)
            items.append(WalkedItem(entry: e, sourcePath: path))
        case S_IFLNK:
            var e = base
            e.kind = .symlink
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(path, &buf, buf.count - 1)
            guard n >= 0 else {
                warnings.append("skipped symlink \(path): \(String(cString: strerror(errno)))")
                return
            }
            e.linkTarget = String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            items.append(WalkedItem(entry: e, sourcePath: path))
        case S_IFDIR:
            var e = base
            e.kind = .directory
            items.append(WalkedItem(entry: e, sourcePath: path))
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: path)
            } catch {
                warnings.append("could not list \(path): \(error.localizedDescription)")
                return
            }
            for name in names.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
                let child = path == "/" ? "/" + name : path + "/" + name
                var cst = stat()
                guard lstat(child, &cst) == 0 else {
                    warnings.append("skipped \(child): \(String(cString: strerror(errno)))")
                    continue
                }
                visit(child, stored: stored + "/" + name, st: cst, into: &items)
            }
        default:
            warnings.append("skipped \(path): not a regular file, folder or symlink")
        }
    }
}
