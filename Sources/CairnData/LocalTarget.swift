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
    private let env: LMDBEnvironment
    private let shards: LMDBDatabase
    private let meta: LMDBDatabase

    static let rootKey: [UInt8] = Array("root".utf8)
    static let formatKey: [UInt8] = Array("format".utf8)
    static let formatValue: [UInt8] = Array("cairn-target-v1".utf8)

    /// Opens a target. The folder must be a folder (a file, a FIFO or a device is
    /// `.targetUnavailable`); without `.create` it must exist and hold a store. The store
    /// file is checked before it is used: a file shorter than its meta pages say, or
    /// pages that lead outside the file, are `.corrupt` (the store is damaged; `check`
    /// moves it aside and rebuilds it). A store about to be written is first checked
    /// through a read-only handle, so no write ever follows a damaged page.
    public init(path: String, access: Access) throws(DataError) {
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
        } else if (st.st_mode & S_IFMT) != S_IFDIR {
            throw DataError(.targetUnavailable, "target \(path) is \(Self.kind(st.st_mode)), not a folder: give the folder of the target")
        }
        let hasStore = access == .create ? FileManager.default.fileExists(atPath: path + "/data.mdb")
            : Self.hasStoreFile(path)
        if !hasStore && access != .create {
            throw DataError(.targetUnavailable, "target \(path) holds no Cairn store (no data.mdb)")
        }
        do {
            if hasStore && access != .read { try Self.verifyReadOnly(path) }
            env = try LMDBEnvironment(path: path, mapSize: 1 << 40, maxDatabases: 4,
                                      access: access == .read ? .readOnly : .readWrite)
            shards = try env.openDatabase("shards")
            meta = try env.openDatabase("meta")
            if access == .read { try env.verifyStructure([shards, meta]) }
            let format = try env.read { txn in try txn.get(meta, Self.formatKey) }
            if let format, format != Self.formatValue {
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
        var databases: [LMDBDatabase] = []
        for name in ["shards", "meta"] {
            if let db = try probe.openExistingDatabase(name) { databases.append(db) }
        }
        try probe.verifyStructure(databases)
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
    /// must agree); nil for a target with no shards yet. A damaged first shard is `.corrupt`.
    public func shardIndex() throws(DataError) -> Int? {
        var found: (key: [UInt8], header: [UInt8])?
        do {
            try env.read { txn in
                try txn.forEach(shards, prefix: []) { key, value in
                    found = (key, Array(value.prefix(ShardHeader.size)))
                    return false
                }
            }
        } catch {
            throw DataError(.corrupt, "target \(path): its shards cannot be listed", cause: error)
        }
        guard let found else { return nil }
        guard found.key.count == ObjectID.size + 1,
              let header = try? ShardHeader(decoding: found.header),
              header.index == Int(found.key[ObjectID.size]), header.pack.bytes == Array(found.key[..<ObjectID.size])
        else {
            throw DataError(.corrupt, "target \(path): its first shard's key and header do not agree (the store is damaged)")
        }
        return header.index
    }

    /// Stores one shard (header + bytes) durably.
    public func putShard(header: ShardHeader, bytes: UnsafeRawBufferPointer) throws(DataError) {
        precondition(access != .read, "shard written to target \(path), opened read-only")
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

    /// Appends the bytes of one shard to `out` straight from the store's mapping (one
    /// copy), if the shard is there with a sound header matching `expected`. For the
    /// restore fast path; anything unexpected returns false and the caller takes the
    /// careful path.
    func appendShard(_ expected: ShardHeader, to out: inout [UInt8]) -> Bool {
        let ok = try? env.read { txn in
            try txn.withValue(shards, Self.shardKey(expected.pack, expected.index)) { value -> Bool in
                guard value.count == ShardHeader.size + expected.shardLength,
                      (try? ShardHeader(decoding: Array(value[..<ShardHeader.size]))) == expected
                else { return false }
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: value[ShardHeader.size...]))
                Self.releaseMappedPages(value)
                return true
            }
        }
        return ok == .some(.some(true))
    }

    /// Reads one shard. Returns nil when absent; a damaged header is reported as
    /// `.corrupt` so the caller can rebuild it.
    public func readShard(pack: PackID, index: Int) throws(DataError) -> (header: ShardHeader, bytes: [UInt8])? {
        do {
            let found: (ShardHeader, [UInt8])?? = try env.read { txn in
                try txn.withValue(shards, Self.shardKey(pack, index)) { value -> (ShardHeader, [UInt8])? in
                    guard value.count >= ShardHeader.size else { return nil }
                    guard let header = try? ShardHeader(decoding: Array(value[..<ShardHeader.size])) else { return nil }
                    let bytes = Array(value[ShardHeader.size...])
                    Self.releaseMappedPages(value)
                    return (header, bytes)
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

    /// Deletes these shards in one transaction.
    func deleteShards(_ keys: [(pack: PackID, index: Int)]) throws(DataError) {
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
