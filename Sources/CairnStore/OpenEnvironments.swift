internal import CLMDB
import Synchronization
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// One LMDB environment per store file per process, shared by every `LMDBEnvironment`
/// opened on it.
///
/// Why a process-wide table: LMDB forbids opening the same files twice in one process.
/// Its locks are POSIX record locks, which never conflict within a process, so a second
/// open believes it is alone and re-initialises the lock region the first is using, and
/// the first one's close then destroys the mutexes the second still locks — a crash
/// inside `pthread_mutex_lock` some time later. A backup's target stores can still be
/// closing on a pipeline thread when a restore or check opens the same targets, so the
/// rule cannot be left to callers. Handles are counted under one lock, and the last one
/// closes the environment under it, so no open can slip between a close and its removal.
final class SharedEnvironment: @unchecked Sendable {
    let env: OpaquePointer
    let key: FileKey
    let settings: Settings
    let maxKeySize: Int
    /// The write transaction's holder, for every handle on these files.
    let writer = WriterGuard()
    /// Open `LMDBEnvironment`s on it; changed only under `SharedEnvironment.table`'s lock.
    fileprivate var handles = 0

    struct FileKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    struct Settings: Equatable {
        var mapSize: Int
        var maxDatabases: Int
        var maxReaders: Int
        var durable: Bool
        var readOnly: Bool

        var summary: String {
            "map \(mapSize) bytes, \(maxDatabases) databases, \(maxReaders) readers, \(durable ? "durable" : "not durable"), \(readOnly ? "read-only" : "read-write")"
        }
    }

    private init(env: OpaquePointer, key: FileKey, settings: Settings) {
        self.env = env
        self.key = key
        self.settings = settings
        maxKeySize = Int(mdb_env_get_maxkeysize(env))
    }

    private static let table = Mutex<[FileKey: SharedEnvironment]>([:])

    /// The environment of the store in directory `path`, opened by `open` when no handle
    /// of this process has it open.
    static func acquire(path: String, settings: Settings,
                        open: () throws(StoreError) -> OpaquePointer) throws(StoreError) -> SharedEnvironment {
        try table.withLock { (open_: inout [FileKey: SharedEnvironment]) throws(StoreError) -> SharedEnvironment in
            if let key = fileKey(path + "/data.mdb"), let shared = open_[key] {
                // A read-write environment serves a read-only handle too (a backup's
                // stores may still be closing when a restore opens them).
                var wanted = settings
                if wanted.readOnly && !shared.settings.readOnly { wanted.readOnly = false }
                guard shared.settings == wanted else {
                    throw StoreError(code: .other, path: path, lmdbCode: 0,
                                     message: "\(path) is already open in this process as a different kind of store (\(shared.settings.summary), now asked for \(settings.summary)); is one folder given both as a target and as the data directory? Give each its own folder")
                }
                shared.handles += 1
                return shared
            }
            let env = try open()
            guard let key = fileKey(path + "/data.mdb") else {
                mdb_env_close(env)
                throw StoreError(code: .io, path: path, lmdbCode: 0,
                                 message: "\(path)/data.mdb vanished while the store was being opened; is another program removing it?")
            }
            let shared = SharedEnvironment(env: env, key: key, settings: settings)
            shared.handles = 1
            open_[key] = shared
            return shared
        }
    }

    /// Drops one handle; the last one closes the environment.
    func release() {
        Self.table.withLock { open_ in
            handles -= 1
            precondition(handles >= 0, "environment released more often than acquired")
            if handles == 0 {
                open_[key] = nil
                StoreAssertions.unregister(env)
                mdb_env_close(env)
            }
        }
    }

    private static func fileKey(_ path: String) -> FileKey? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }
}
