/// One node of a snapshot's tree. Paths are relative, '/'-separated; the top-level
/// entries are the backed-up roots, named by their absolute path without the leading '/'.
public struct TreeEntry: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case file = 1
        case directory = 2
        case symlink = 3
    }

    /// Numeric owner and group, restored when the restore runs as root (as tar and
    /// restic do). Snapshots from trees of version 1 did not record them.
    public struct Owner: Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32

        public init(uid: UInt32, gid: UInt32) {
            self.uid = uid
            self.gid = gid
        }
    }

    public var kind: Kind
    /// The path as the file system has it: bytes, which need not be UTF-8.
    public var pathBytes: [UInt8]
    /// Permission bits (including setuid, setgid, sticky): `st_mode & 0o7777`.
    public var mode: UInt32
    public var owner: Owner?
    public var mtimeSeconds: Int64
    public var mtimeNanoseconds: UInt32
    public var size: UInt64
    /// Device and inode, with size and mtime, tell an unchanged file on the next backup.
    public var device: UInt64
    public var inode: UInt64
    /// A symlink's target as `readlink` gave it: bytes, which need not be UTF-8.
    public var linkTargetBytes: [UInt8]
    public var chunks: [ChunkRef]

    /// The path to show a person: exact when it is UTF-8, otherwise with each byte that
    /// is not as `\xNN` (see `pathBytes` for the real name). Setting it stores its UTF-8.
    public var path: String {
        get { NameBytes.display(pathBytes) }
        set { pathBytes = Array(newValue.utf8) }
    }

    /// Stored bytes as text for a person, escaped as `path` is.
    public static func display(_ bytes: [UInt8]) -> String { NameBytes.display(bytes) }

    /// The link target to show a person, escaped like `path`.
    public var linkTarget: String {
        get { NameBytes.display(linkTargetBytes) }
        set { linkTargetBytes = Array(newValue.utf8) }
    }

    public init(
        kind: Kind, pathBytes: [UInt8], mode: UInt32, owner: Owner? = nil, mtimeSeconds: Int64, mtimeNanoseconds: UInt32,
        size: UInt64 = 0, device: UInt64 = 0, inode: UInt64 = 0, linkTargetBytes: [UInt8] = [], chunks: [ChunkRef] = []
    ) {
        self.kind = kind
        self.pathBytes = pathBytes
        self.mode = mode
        self.owner = owner
        self.mtimeSeconds = mtimeSeconds
        self.mtimeNanoseconds = mtimeNanoseconds
        self.size = size
        self.device = device
        self.inode = inode
        self.linkTargetBytes = linkTargetBytes
        self.chunks = chunks
    }

    public init(
        kind: Kind, path: String, mode: UInt32, owner: Owner? = nil, mtimeSeconds: Int64, mtimeNanoseconds: UInt32,
        size: UInt64 = 0, device: UInt64 = 0, inode: UInt64 = 0, linkTarget: String = "", chunks: [ChunkRef] = []
    ) {
        self.init(kind: kind, pathBytes: Array(path.utf8), mode: mode, owner: owner, mtimeSeconds: mtimeSeconds,
                  mtimeNanoseconds: mtimeNanoseconds, size: size, device: device, inode: inode,
                  linkTargetBytes: Array(linkTarget.utf8), chunks: chunks)
    }
}

/// The encoded tree of a snapshot: `"CRNT" | version u8 | count u32 | entries`.
/// It is stored through the same pipeline as file data (chunked, sealed, packed).
/// Version 2 adds the owner (flag u8, then uid u32 and gid u32 when the flag is 1) after
/// the mode; version 1 trees, which have no owner, are still read. Version 3 has the
/// same layout, but paths and link targets are bytes as the file system has them, not
/// necessarily UTF-8 (versions 1 and 2 required UTF-8, so their names were UTF-8 only).
public enum TreeCodec {
    static let magic: [UInt8] = Array("CRNT".utf8)
    static let version: UInt8 = 3
    static let versionsRead: ClosedRange<UInt8> = 1...3

    public static func encode(_ entries: [TreeEntry]) -> [UInt8] {
        var w = ByteWriter(capacity: 64 + entries.count * 128)
        w.raw(magic)
        w.u8(version)
        w.u32(UInt32(entries.count))
        for e in entries {
            w.u8(e.kind.rawValue)
            w.blob(e.pathBytes)
            w.u32(e.mode)
            if let owner = e.owner {
                w.u8(1)
                w.u32(owner.uid)
                w.u32(owner.gid)
            } else {
                w.u8(0)
            }
            w.i64(e.mtimeSeconds)
            w.u32(e.mtimeNanoseconds)
            w.u64(e.size)
            w.u64(e.device)
            w.u64(e.inode)
            w.blob(e.linkTargetBytes)
            w.u32(UInt32(e.chunks.count))
            for c in e.chunks { c.encode(into: &w) }
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> [TreeEntry] {
        var r = ByteReader(bytes, what: "snapshot tree")
        guard try r.raw(4) == magic else { throw r.fail("not a Cairn tree (bad magic)") }
        let v = try r.u8()
        guard versionsRead.contains(v) else {
            throw r.fail("tree version \(v) is not supported (this build reads \(versionsRead.lowerBound) to \(versionsRead.upperBound)); a newer cairn wrote it")
        }
        let count = try r.count(max: Limits.treeEntriesMax)
        var entries: [TreeEntry] = []
        entries.reserveCapacity(min(count, r.remaining / 40))
        for _ in 0..<count {
            let rawKind = try r.u8()
            guard let kind = TreeEntry.Kind(rawValue: rawKind) else { throw r.fail("unknown entry kind \(rawKind)") }
            // Versions 1 and 2 hold UTF-8 only; version 3 any bytes.
            let path = v >= 3 ? try r.blob(max: Limits.pathMax) : Array(try r.string(max: Limits.pathMax).utf8)
            guard NameBytes.isSafeRelativePath(path) else { throw r.fail("unsafe path \"\(NameBytes.display(path))\"") }
            let mode = try r.u32()
            var owner: TreeEntry.Owner?
            if v >= 2 {
                switch try r.u8() {
                case 0: owner = nil
                case 1: owner = TreeEntry.Owner(uid: try r.u32(), gid: try r.u32())
                case let flag: throw r.fail("owner flag \(flag) of \"\(NameBytes.display(path))\" is not 0 or 1")
                }
            }
            let sec = try r.i64()
            let nsec = try r.u32()
            guard nsec < 1_000_000_000 else { throw r.fail("nanoseconds \(nsec) out of range") }
            let size = try r.u64()
            let dev = try r.u64()
            let ino = try r.u64()
            let link = v >= 3 ? try r.blob(max: Limits.pathMax) : Array(try r.string(max: Limits.pathMax).utf8)
            let n = try r.count(max: r.remaining / ChunkRef.encodedSize)
            var chunks: [ChunkRef] = []
            chunks.reserveCapacity(n)
            for _ in 0..<n { chunks.append(try ChunkRef(reading: &r)) }
            let total = chunks.reduce(UInt64(0)) { $0 + UInt64($1.plainLength) }
            guard kind != .file || total == size else {
                throw r.fail("file \"\(NameBytes.display(path))\" lists \(total) bytes of chunks for size \(size)")
            }
            entries.append(TreeEntry(
                kind: kind, pathBytes: path, mode: mode & 0o7777, owner: owner, mtimeSeconds: sec, mtimeNanoseconds: nsec,
                size: size, device: dev, inode: ino, linkTargetBytes: link, chunks: chunks))
        }
        try r.expectEnd()
        return entries
    }

    /// A stored path must not escape the restore folder: no empty, "." or ".."
    /// components and no leading '/'.
    public static func isSafeRelativePath(_ path: String) -> Bool {
        NameBytes.isSafeRelativePath(Array(path.utf8))
    }
}
