import CairnCrypto
import CairnStore
import Foundation

/// One local backup target: a folder holding an LMDB environment with the shards placed
/// there and a copy of the owner's root record. A target holds shard `i` of every pack
/// for one `i`, which its shards' keys and headers say (`shardIndex`), whatever its path.
public final class LocalTarget: @unchecked Sendable {
    /// What a command does with a target.
    public enum Access: Sendable, Equatable {
        /// Restore, listing, `check --no-repair`: opened read-only (`MDB_RDONLY`, without a
        /// lock file when it cannot be written), so read-only drives work.
        case read
        /// An existing store that will be written (backup, repair).
        case write
        /// As `write`, creating the folder and store when missing (the first backup, a
        /// rebuilt target).
        case create
    }

    public let path: String
    public let access: Access
    /// Held for as long as this target is open, so prune cannot replace the store file
    /// under it (`StoreLock`).
    private let storeLock: StoreLock
    /// Why this target is used without that lock (a folder where no lock file can be
    /// created), to be shown as a warning.
    public var lockWarning: String? { storeLock.warning }
    private let env: LMDBEnvironment
    private let shards: LMDBDatabase
    private let meta: LMDBDatabase

    static let rootKey: [UInt8] = Array("root".utf8)
    static let formatKey: [UInt8] = Array("format".utf8)
    static let repositoryKey: [UInt8] = Array("repository".utf8)
    /// Version 2 records its repository (`repository` in `meta`) and holds version 2
    /// shard headers; version 1 targets are still read (their repository is unknown
    /// until written) and become version 2 when a repository claims them.
    static let formatValue: [UInt8] = Array("cairn-target-v2".utf8)
    static let formatsRead: [[UInt8]] = [Array("cairn-target-v1".utf8), formatValue]

    /// Opens a target. The folder must be a folder (a file, a FIFO or a device is
    /// `.targetUnavailable`); without `.create` it must exist and hold a store. The store
    /// file is checked before it is used: a file shorter than its meta pages say, B-tree
    /// pages LMDB would misread (`verifyPages`, before LMDB reads any), or pages that lead
    /// outside the file, are `.corrupt` (the store is damaged; `check` moves it aside and
    /// rebuilds it). A store about to be written is first checked
    /// through a read-only handle, so no write ever follows a damaged page.
    ///
    /// The target's store lock is taken shared first (`StoreLock`), waiting up to
    /// `lockWait` seconds (nil: `CAIRN_LOCK_WAIT`, else 30) while a prune compacts the
    /// store; then `.busy`, naming the target.
    ///
    /// `durable: false` skips the flush at every commit (scratch targets a network restore
    /// fills shard by shard, flushed once with `sync()` when they are complete).
    public init(path: String, access: Access, lockWait: Double? = nil, durable: Bool = true) throws(DataError) {
        self.path = path
        self.access = access
        var st = stat()
        if stat(path, &st) != 0 {
            let err = errno
            guard err == ENOENT, access == .create else {
                throw DataError(.targetUnavailable, err == ENOENT
                    ? "target \(path) does not exist (a drive that is not mounted?)"
                    : "target \(path) cannot be examined: \(String(cString: strerror(err)))")
            }
            try Self.makeFolder(path)
        } else if (st.st_mode & S_IFMT) != S_IFDIR {
            throw DataError(.targetUnavailable, "target \(path) is \(Self.kind(st.st_mode)), not a folder: give the folder of the target")
        }
        // Before the store is looked at: a compaction may be replacing it right now.
        storeLock = try StoreLock.shared(folder: path, wait: lockWait ?? StoreLock.defaultWait)
        let hasStore = access == .create ? FileManager.default.fileExists(atPath: path + "/data.mdb")
            : Self.hasStoreFile(path)
        if !hasStore && access != .create {
            throw DataError(.targetUnavailable, "target \(path) holds no Cairn store (no data.mdb)")
        }
        do {
            if hasStore && access != .read { try Self.verifyReadOnly(path) }
            env = try LMDBEnvironment(path: path, mapSize: 1 << 40, maxDatabases: 4, durable: durable,
                                      access: access == .read ? .readOnly : .readWrite)
            if access == .read { try env.verifyPages() }
            shards = try env.openDatabase("shards")
            meta = try env.openDatabase("meta")
            if access == .read { try env.verifyStructure([shards, meta]) }
            let format = try env.read { txn in try txn.get(meta, Self.formatKey) }
            if let format, !Self.formatsRead.contains(format) {
                throw DataError(.targetUnavailable, "target \(path) is not a Cairn target (format \(String(decoding: format, as: UTF8.self)))")
            }
            if format == nil && access != .read {
                try env.write { txn in try txn.put(meta, Self.formatKey, Self.formatValue) }
            }
        } catch let e as DataError {
            throw e
        } catch let e as StoreError where e.code == .corrupted {
            throw DataError(.corrupt, "target \(path) is damaged: \(e.message)")
        } catch {
            throw DataError(.targetUnavailable, "target \(path) cannot be opened", cause: error)
        }
    }

    /// Walks the store through a read-only handle, closed again on return (the write
    /// handle opened next must not share it): writing after a damaged page is how a
    /// writer would fault or spread the damage.
    private static func verifyReadOnly(_ path: String) throws(StoreError) {
        let probe = try LMDBEnvironment(path: path, mapSize: 1 << 40, maxDatabases: 4, access: .readOnly)
        try probe.verifyPages()
        var databases: [LMDBDatabase] = []
        for name in ["shards", "meta"] {
            if let db = try probe.openExistingDatabase(name) { databases.append(db) }
        }
        try probe.verifyStructure(databases)
    }

    /// Creates the folder and its missing parents (mode 0700, as the store's own would be).
    private static func makeFolder(_ path: String) throws(DataError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o700) != 0, errno != EEXIST {
                throw DataError(.targetUnavailable, "target \(path) cannot be created: \(prefix): \(String(cString: strerror(errno)))")
            }
            prefix += "/"
        }
    }

    private static func hasStoreFile(_ path: String) -> Bool {
        var st = stat()
        return lstat(path + "/data.mdb", &st) == 0
    }

    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "a file"
        case S_IFIFO: "a FIFO"
        case S_IFCHR, S_IFBLK: "a device"
        case S_IFSOCK: "a socket"
        default: "not a folder"
        }
    }

    static func shardKey(_ pack: PackID, _ index: Int) -> [UInt8] {
        pack.bytes + [UInt8(index)]
    }

    /// Which shard index this target holds, from its first shard (its key and its header
    /// must agree), and which repository it belongs to, from its metadata or else that
    /// shard's header; nil for what is not known (no shards yet, a version 1 target). A
    /// damaged first shard is `.corrupt`.
    public func identity() throws(DataError) -> (index: Int?, repository: RepositoryID?) {
        var found: (key: [UInt8], header: [UInt8])?
        let recorded: [UInt8]?
        do {
            recorded = try env.read { txn in try txn.get(meta, Self.repositoryKey) }
            try env.read { txn in
                try txn.forEach(shards, prefix: []) { key, value in
                    found = (key, Array(value.prefix(ShardHeader.size)))
                    return false
                }
            }
        } catch {
            throw DataError(.corrupt, "target \(path): its shards cannot be listed", cause: error)
        }
        var repository: RepositoryID?
        if let recorded {
            guard recorded.count == RepositoryID.size else {
                throw DataError(.corrupt, "target \(path): its recorded repository id has \(recorded.count) bytes, not \(RepositoryID.size) (the store is damaged)")
            }
            repository = RepositoryID(recorded)
        }
        guard let found else { return (nil, repository) }
        guard found.key.count == ObjectID.size + 1,
              let header = try? ShardHeader(decoding: found.header),
              header.index == Int(found.key[ObjectID.size]), header.pack.bytes == Array(found.key[..<ObjectID.size])
        else {
            throw DataError(.corrupt, "target \(path): its first shard's key and header do not agree (the store is damaged)")
        }
        return (header.index, repository ?? header.repository)
    }

    /// Records that this target belongs to `repository` (and is a version 2 target),
    /// before shards or a root record of that repository are written to it.
    func claim(_ repository: RepositoryID) throws(DataError) {
        precondition(access != .read, "target \(path), opened read-only, claimed for repository \(repository)")
        do {
            try env.write { txn in
                if let recorded = try txn.get(meta, Self.repositoryKey) {
                    guard recorded == repository.bytes else {
                        throw DataError(.foreignRepository, "target \(path) belongs to repository \(Hex.encode(recorded)), not \(repository): nothing was written to it")
                    }
                    return
                }
                try txn.put(meta, Self.repositoryKey, repository.bytes)
                try txn.put(meta, Self.formatKey, Self.formatValue)
            }
        } catch let e as DataError {
            throw e
        } catch {
            throw DataError(.io, "could not record the repository id on target \(path)", cause: error)
        }
    }

    /// Stores one shard (header + bytes) durably.
    public func putShard(header: ShardHeader, bytes: UnsafeRawBufferPointer) throws(DataError) {
        precondition(access != .read, "shard written to target \(path), opened read-only")
        precondition(header.repository != nil, "shard \(header.index) of pack \(header.pack) written without a repository id")
        precondition(bytes.count == header.shardLength, "shard \(header.index) of \(header.pack) has \(bytes.count) bytes, header says \(header.shardLength)")
        let head = header.encode()
        do {
            try env.write { txn in
                try txn.put(shards, Self.shardKey(header.pack, header.index), reserving: head.count + bytes.count) { out in
                    head.withUnsafeBytes { out.copyMemory(from: $0) }
                    UnsafeMutableRawBufferPointer(rebasing: out[head.count...]).copyMemory(from: bytes)
                }
            }
        } catch {
            throw DataError(.io, "could not write shard \(header.index) of pack \(header.pack) to target \(path)", cause: error)
        }
    }

    /// Appends the bytes of shard `index` of `record` to `out` straight from the store's
    /// mapping (one copy), if the shard is there with a sound header that describes it
    /// (and is not another repository's). For the restore fast path; anything unexpected
    /// returns false and the caller takes the careful path.
    func appendShard(_ record: PackRecord, index: Int, repository: RepositoryID?, to out: inout [UInt8]) -> Bool {
        let ok = try? env.read { txn in
            try txn.withValue(shards, Self.shardKey(record.id, index)) { value -> Bool in
                guard let header = ShardHeader.decode(prefixOf: value),
                      header.describes(record, index: index, repository: repository),
                      value.count == header.encodedSize + record.shardLength
                else { return false }
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: value[header.encodedSize...]))
                Self.releaseMappedPages(value)
                return true
            }
        }
        return ok == .some(.some(true))
    }

    /// Reads one shard. Returns nil when absent; a damaged header is reported as
    /// `.corrupt` so the caller can rebuild it.
    public func readShard(pack: PackID, index: Int) throws(DataError) -> (header: ShardHeader, bytes: [UInt8])? {
        try withStoredShard(pack: pack, index: index) { header, body in (header, Array(body)) }
    }

    /// Shard `index` of `pack` as a slot stream carries it — its header (encoded again
    /// from what it decodes to), then its bytes — copied out of the store's mapping once.
    /// Nil when absent; a damaged header is `.corrupt`, as for `readShard`.
    public func readStoredShard(pack: PackID, index: Int) throws(DataError) -> [UInt8]? {
        try withStoredShard(pack: pack, index: index) { header, body in
            let head = header.encode()
            return [UInt8](unsafeUninitializedCapacity: head.count + body.count) { buffer, count in
                let raw = UnsafeMutableRawBufferPointer(buffer)
                head.withUnsafeBytes { raw.copyMemory(from: $0) }
                UnsafeMutableRawBufferPointer(rebasing: raw[head.count...]).copyMemory(from: body)
                count = head.count + body.count
            }
        }
    }

    /// `body` over shard `index` of `pack`: its decoded header and the bytes after it, in the
    /// store's mapping (released once `body` has copied what it needs). Nil when absent; a
    /// header that does not decode, or claims more than the value holds, is `.corrupt`.
    private func withStoredShard<T>(pack: PackID, index: Int,
                                    _ body: (ShardHeader, UnsafeRawBufferPointer) -> T) throws(DataError) -> T? {
        do {
            let found: T?? = try env.read { txn in
                try txn.withValue(shards, Self.shardKey(pack, index)) { value -> T? in
                    guard let header = ShardHeader.decode(prefixOf: value), value.count >= header.encodedSize else { return nil }
                    let result = body(header, UnsafeRawBufferPointer(rebasing: value[header.encodedSize...]))
                    Self.releaseMappedPages(value)
                    return result
                }
            }
            switch found {
            case .none: return nil
            case .some(.none): throw DataError(.corrupt, "shard \(index) of pack \(pack) on target \(path) has a damaged header")
            case .some(.some(let v)): return v
            }
        } catch let e as DataError {
            throw e
        } catch {
            throw DataError(.io, "could not read shard \(index) of pack \(pack) from target \(path)", cause: error)
        }
    }

    /// Shards are read through LMDB's read-only file mapping; once copied out, their pages
    /// are dropped from this process (they stay in the page cache), so reading a large
    /// backup does not grow the resident set by the size of every shard read.
    static func releaseMappedPages(_ value: UnsafeRawBufferPointer) {
        guard let base = value.baseAddress, value.count >= 1 << 20 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: base) + page - 1) / page * page
        let end = (Int(bitPattern: base) + value.count) / page * page
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED)
    }

    public func writeRoot(_ envelope: [UInt8]) throws(DataError) {
        precondition(access != .read, "root record written to target \(path), opened read-only")
        do {
            try env.write { txn in try txn.put(meta, Self.rootKey, envelope) }
        } catch {
            throw DataError(.io, "could not write the root record to target \(path)", cause: error)
        }
    }

    public func readRoot() throws(DataError) -> [UInt8]? {
        do {
            return try env.read { txn in try txn.get(meta, Self.rootKey) }
        } catch {
            throw DataError(.io, "could not read the root record from target \(path)", cause: error)
        }
    }

    /// Flushes what was committed to disk (needed for a target opened `durable: false`).
    public func sync() throws(DataError) {
        do { try env.sync() } catch {
            throw DataError(.io, "could not flush target \(path) to disk", cause: error)
        }
    }

    /// Deletes these shards in one transaction.
    public func deleteShards(_ keys: [(pack: PackID, index: Int)]) throws(DataError) {
        do {
            try env.write { txn in
                for key in keys { try txn.delete(shards, Self.shardKey(key.pack, key.index)) }
            }
        } catch {
            throw DataError(.io, "could not delete \(keys.count) unused shards from target \(path)", cause: error)
        }
    }

    /// Every (pack, index) stored here, in key order.
    public func shardKeys() throws(DataError) -> [(pack: PackID, index: Int)] {
        var out: [(PackID, Int)] = []
        do {
            try env.read { txn in
                try txn.forEach(shards, prefix: []) { key, _ in
                    if key.count == 33 { out.append((ObjectID(Array(key[..<32])), Int(key[32]))) }
                    return true
                }
            }
        } catch {
            throw DataError(.io, "could not list the shards of target \(path)", cause: error)
        }
        return out
    }
}
