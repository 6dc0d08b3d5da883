#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif
import Foundation

/// One thing found while walking the backup roots, with what `lstat` said of it.
public struct WalkedItem: Sendable {
    public var entry: TreeEntry
    /// The absolute path of the backup root it was found under.
    public var rootPath: String
    /// Its path below that root, '/'-separated bytes as the file system has them (empty
    /// for the root itself). It is opened relative to the root, one folder at a time.
    public var relative: [UInt8]

    /// Where it is on this machine, to show a person (see `NameBytes.display`).
    public var sourcePath: String {
        relative.isEmpty ? rootPath : (rootPath == "/" ? "" : rootPath) + "/" + NameBytes.display(relative)
    }
}

/// Something the walk met and did not back up, and why.
public struct LeftOut: Codable, Sendable, Equatable {
    public var path: String
    public var reason: String
}

/// Walks the backup roots depth-first in byte order of names, so the same tree always
/// gives the same snapshot. Names are read as bytes (`readdir`) and every entry is
/// looked at relative to its folder's descriptor (`fstatat`, `openat` with `O_NOFOLLOW`,
/// `readlinkat`), so names that are not UTF-8 and paths longer than `PATH_MAX` are
/// backed up as they are. What cannot be read (a folder that cannot be listed, an entry
/// that vanished) is left out and listed in `leftOut`; sockets, FIFOs and devices are
/// not backed up (`unsupported`). The walk goes on either way.
public struct FileWalker {
    public private(set) var warnings: [String] = []
    /// Entries that had to be left out: the backup that follows exits with status 3.
    public private(set) var leftOut: [LeftOut] = []
    /// Sockets, FIFOs and devices met (not backed up, not an error).
    public private(set) var unsupported = 0

    /// Records something the caller noticed about a walked entry (read later).
    mutating func note(_ warning: String) { warnings.append(warning) }

    /// Records an entry the caller could not read after all (a file that vanished or
    /// could not be read between the walk and the read).
    mutating func leaveOut(_ path: String, _ reason: String) { leftOut.append(LeftOut(path: path, reason: reason)) }

    public init() {}

    /// The stored name of a root: its absolute, normalised path without the leading '/'.
    public static func storedName(forRoot root: String) -> String {
        var p = URL(fileURLWithPath: root).standardizedFileURL.path
        while p.hasPrefix("/") { p.removeFirst() }
        return p
    }

    /// Absolute paths never backed up (the data directory and the targets themselves, so
    /// a backup of a home folder that holds them does not feed on its own output).
    public var excluded: Set<String> = [] {
        didSet { excludedBytes = Set(excluded.map { Array($0.utf8) }) }
    }
    private var excludedBytes: Set<[UInt8]> = []
    /// The user's `--exclude` patterns; what they match is left out silently.
    public var patterns: [ExcludePattern] = []
    /// Entries left out by `patterns` or because they are Cairn's own (an excluded folder
    /// counts once).
    public private(set) var excludedByPattern = 0

    public mutating func walk(roots: [String]) throws(DataError) -> [WalkedItem] {
        var items: [WalkedItem] = []
        for root in roots {
            let abs = URL(fileURLWithPath: root).standardizedFileURL.path
            var st = stat()
            guard lstat(abs, &st) == 0 else {
                throw DataError(.notFound, "cannot back up \(root): \(NameBytes.errorText(errno))")
            }
            let name = Self.storedName(forRoot: abs)
            guard !name.isEmpty else {
                throw DataError(.invalidArgument, "backing up / as a whole is not supported yet: name the folders under it")
            }
            let absBytes = Array(abs.utf8)
            let lastName = absBytes.split(separator: NameBytes.slash).last.map(Array.init) ?? absBytes
            guard let entry = admit(absolute: absBytes, name: lastName, stored: Array(name.utf8), st: st) else { continue }
            let item = WalkedItem(entry: entry, rootPath: abs, relative: [])
            if let (fd, names) = take(item, named: absBytes, in: AT_FDCWD, into: &items) {
                walkFolder(FolderChain(base: fd), names: names, root: abs, rootBytes: absBytes, stored: entry.pathBytes,
                           into: &items)
            }
        }
        return items
    }

    /// Walks everything below the root folder at the chain's base, depth-first without
    /// recursion (a path may be thousands of folders deep).
    private mutating func walkFolder(_ chain: FolderChain, names: [[UInt8]], root: String, rootBytes: [UInt8],
                                     stored: [UInt8], into items: inout [WalkedItem]) {
        struct Frame {
            var names: [[UInt8]]
            var next = 0
            /// The folder's path below the root (empty for the root).
            var relative: [UInt8]
        }
        let slash = [NameBytes.slash]
        var stack = [Frame(names: names, relative: [])]
        while let top = stack.indices.last {
            guard stack[top].next < stack[top].names.count else {
                stack.removeLast()
                if chain.depth > 0 { chain.popClosing() }
                continue
            }
            let name = stack[top].names[stack[top].next]
            stack[top].next += 1
            let parentRelative = stack[top].relative
            let relative = parentRelative.isEmpty ? name : parentRelative + slash + name
            let absolute = rootBytes + slash + relative
            // Shown only when something goes wrong: most entries never need the text.
            var shown: String { root + "/" + NameBytes.display(relative) }
            let folder: Int32
            do { folder = try chain.top() } catch {
                leftOut.append(LeftOut(path: shown, reason: error.message))
                continue
            }
            var st = stat()
            guard NameBytes.withCString(name, { fstatat(folder, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else {
                leftOut.append(LeftOut(path: shown, reason: "it vanished or cannot be looked at: \(NameBytes.errorText(errno))"))
                continue
            }
            guard let entry = admit(absolute: absolute, name: name, stored: stored + slash + relative, st: st) else { continue }
            let item = WalkedItem(entry: entry, rootPath: root, relative: relative)
            if let (fd, names) = take(item, named: name, in: folder, into: &items) {
                chain.push(name, fd: fd)
                stack.append(Frame(names: names, relative: relative))
            }
        }
    }

    /// The tree entry for what `lstat` said, or nil when it is not backed up: Cairn's
    /// own folders, what an exclude pattern matches, and sockets, FIFOs and devices.
    private mutating func admit(absolute: [UInt8], name: [UInt8], stored: [UInt8], st: stat) -> TreeEntry? {
        if excludedBytes.contains(absolute) {
            warnings.append("skipped \(NameBytes.display(absolute)): it is Cairn's own data directory or a backup target")
            excludedByPattern += 1
            return nil
        }
        if patterns.contains(where: { $0.matches(path: absolute, name: name) }) {
            excludedByPattern += 1
            return nil
        }
        let kind: TreeEntry.Kind
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFLNK: kind = .symlink
        case S_IFDIR: kind = .directory
        default:
            warnings.append("skipped \(NameBytes.display(absolute)): a socket, FIFO or device is not backed up")
            unsupported += 1
            return nil
        }
        return TreeEntry(
            kind: kind, pathBytes: stored, mode: UInt32(st.st_mode & 0o7777),
            owner: TreeEntry.Owner(uid: UInt32(st.st_uid), gid: UInt32(st.st_gid)),
            mtimeSeconds: Int64(st.st_mtim.tv_sec), mtimeNanoseconds: UInt32(st.st_mtim.tv_nsec),
            size: kind == .file ? UInt64(st.st_size) : 0, device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// Adds `item` (entry `name` of folder `folder`) to `items`, with its link target if
    /// it is a symlink. A folder is opened and listed first, and returned to be walked;
    /// one that cannot be is left out as a whole, as is a link that cannot be read.
    private mutating func take(_ item: WalkedItem, named name: [UInt8], in folder: Int32,
                               into items: inout [WalkedItem]) -> (fd: Int32, names: [[UInt8]])? {
        var item = item
        switch item.entry.kind {
        case .file:
            items.append(item)
        case .symlink:
            guard let target = Self.readLink(folder, name) else {
                leftOut.append(LeftOut(path: item.sourcePath, reason: "cannot read the symlink: \(NameBytes.errorText(errno))"))
                return nil
            }
            item.entry.linkTargetBytes = target
            items.append(item)
        case .directory:
            let fd = FolderChain.openFolder(folder, name)
            guard fd >= 0 else {
                leftOut.append(LeftOut(path: item.sourcePath, reason: "cannot open the folder: \(NameBytes.errorText(errno))"))
                return nil
            }
            do {
                let names = try Self.names(in: fd)
                items.append(item)
                return (fd, names)
            } catch {
                close(fd)
                leftOut.append(LeftOut(path: item.sourcePath, reason: error.message))
            }
        }
        return nil
    }

    /// The names in folder `fd` as bytes, sorted, without "." and "..".
    static func names(in fd: Int32) throws(SystemCallError) -> [[UInt8]] {
        var names: [[UInt8]] = []
        try FolderChain.forEachName(in: fd) { name in
            names.append(name)
            return true
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// The target of symlink `name` in folder `fd`, as bytes; nil with `errno` set.
    private static func readLink(_ fd: Int32, _ name: [UInt8]) -> [UInt8]? {
        var size = 4096
        while true {
            var buf = [UInt8](repeating: 0, count: size)
            let n = NameBytes.withCString(name) { n in
                buf.withUnsafeMutableBufferPointer { b in
                    b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: size) { readlinkat(fd, n, $0, size) }
                }
            }
            guard n >= 0 else { return nil }
            if n < size { return Array(buf[..<n]) }
            size *= 4
            guard size <= Limits.pathMax else {
                errno = ENAMETOOLONG
                return nil
            }
        }
    }
}
