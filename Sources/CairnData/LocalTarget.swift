import CairnStore
import Foundation

/// One local backup target: a folder holding an LMDB environment with the shards placed
/// there and a copy of the owner's root record. Shard `i` of every pack goes to target `i`.
public final class LocalTarget: @unchecked Sendable {
    public let path: String
    private let env: LMDBEnvironment
    private let shards: LMDBDatabase
    private let meta: LMDBDatabase

    static let rootKey: [UInt8] = Array("root".utf8)
    static let formatKey: [UInt8] = Array("format".utf8)
    static let formatValue: [UInt8] = Array("cairn-target-v1".utf8)

    /// Opens a target. With `create`, a missing folder is created; without it, a missing
    /// folder is an error (restores and checks never scatter empty stores around).
    public init(path: String, create: Bool) throws(DataError) {
        self.path = path
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        if exists && !isDir.boolValue {
            throw DataError(.targetUnavailable, "target \(path) is a file, not a folder: give a folder path")
        }
        if !exists && !create {
            throw DataError(.targetUnavailable, "target \(path) does not exist")
        }
        if exists && !create && !FileManager.default.fileExists(atPath: path + "/data.mdb") {
            throw DataError(.targetUnavailable, "target \(path) holds no Cairn store (no data.mdb)")
        }
        do {
            env = try LMDBEnvironment(path: path, mapSize: 1 << 40, maxDatabases: 4)
            shards = try env.openDatabase("shards")
            meta = try env.openDatabase("meta")
            let format = try env.read { txn in try txn.get(meta, Self.formatKey) }
            if let format, format != Self.formatValue {
                throw DataError(.targetUnavailable, "target \(path) is not a Cairn target (format \(String(decoding: format, as: UTF8.self)))")
            }
            if format == nil {
                try env.write { txn in try txn.put(meta, Self.formatKey, Self.formatValue) }
            }
        } catch let e as DataError {
            throw e
        } catch {
            throw DataError(.targetUnavailable, "target \(path) cannot be opened", cause: error)
        }
    }

    static func shardKey(_ pack: PackID, _ index: Int) -> [UInt8] {
        pack.bytes + [UInt8(index)]
    }

    /// Stores one shard (header + bytes) durably.
    public func putShard(header: ShardHeader, bytes: UnsafeRawBufferPointer) throws(DataError) {
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
