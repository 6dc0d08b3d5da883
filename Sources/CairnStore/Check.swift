internal import CLMDB
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The one place where LMDB return codes (LMDB's own negative codes and positive `errno`
/// values) become `StoreError`s, so every message is written once and reads the same.
/// - Parameters:
///   - operation: what Cairn was doing, in words (“opening the store”, “writing a value”).
///   - mapSize: the map size in bytes, for the `MDB_MAP_FULL` message.
func check(_ rc: Int32, path: String, operation: String, mapSize: Int? = nil,
           fileID: String = #fileID, line: Int = #line) throws(StoreError) {
    guard rc != MDB_SUCCESS else { return }
    throw storeError(rc, path: path, operation: operation, mapSize: mapSize, fileID: fileID, line: line)
}

/// The error for a non-zero return code; split out of `check` for callers that must
/// clean up before throwing.
func storeError(_ rc: Int32, path: String, operation: String, mapSize: Int? = nil,
                fileID: String = #fileID, line: Int = #line) -> StoreError {
    let detail = String(cString: mdb_strerror(rc))
    let code: StoreError.Code
    let message: String
    switch rc {
    case MDB_MAP_FULL:
        code = .mapFull
        let size = mapSize.map { "\($0) bytes" } ?? "unknown"
        message = "the store at \(path) is full (map size \(size)) while \(operation): "
            + "reopen it with a larger map size and run the command again; the failed write was not committed"
    case ENOSPC, EDQUOT:
        code = .diskFull
        message = "no space left on the disk holding \(path): "
            + "free some space and run the command again; nothing was lost (while \(operation))"
    case MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_PANIC:
        code = .corrupted
        message = "the store file in \(path) is damaged (\(detail)) while \(operation): "
            + "restore the directory from a copy or delete it and rebuild"
    case MDB_INVALID, MDB_INCOMPATIBLE:
        code = .corrupted
        message = "\(path) holds a data.mdb that is not an LMDB store or is damaged (\(detail)) while \(operation): "
            + "check that the path is right, then move the file away or restore it from a copy"
    case MDB_VERSION_MISMATCH:
        code = .versionMismatch
        message = "the store at \(path) was written by an incompatible LMDB version (\(detail)): "
            + "open it with the Cairn build that created it"
    case MDB_READERS_FULL:
        code = .readersFull
        message = "too many readers are using the store at \(path) while \(operation): "
            + "close other Cairn processes or open the store with a larger maxReaders"
    case EACCES, EPERM, EROFS:
        code = .permissionDenied
        message = "permission denied on \(path) while \(operation) (\(detail)): "
            + "make the directory and its files readable and writable by this user"
    case ENOENT, ENOTDIR:
        code = .notFound
        message = "\(path) does not exist or is not a directory while \(operation) (\(detail)): check the path"
    case EIO where freeBytes(at: path).map({ $0 < nearlyFull }) ?? false:
        // LMDB reports a short write (the disk filled up during it) as EIO.
        code = .diskFull
        message = "no space left on the disk holding \(path) (\(freeBytes(at: path) ?? 0) bytes free): "
            + "free some space and run the command again; nothing was lost (while \(operation))"
    case EIO:
        code = .io
        message = "the disk holding \(path) reported an I/O error while \(operation): "
            + "check the disk and its cable or connection, then run the command again"
    default:
        code = .other
        message = "the store at \(path) failed while \(operation): \(detail) (code \(rc))"
    }
    return StoreError(code: code, path: path, lmdbCode: rc, message: message, fileID: fileID, line: line)
}

/// Below this many free bytes an EIO from a write is taken for a full disk: LMDB writes
/// pages in runs of up to a few megabytes and reports a write cut short as EIO.
let nearlyFull: UInt64 = 16 << 20

/// Bytes an unprivileged user may still write on the file system holding `path`.
func freeBytes(at path: String) -> UInt64? {
    var info = statvfs()
    guard statvfs(path, &info) == 0 else { return nil }
    return UInt64(info.f_bavail) * UInt64(info.f_frsize)
}
