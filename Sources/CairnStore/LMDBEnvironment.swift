internal import CLMDB
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// One LMDB store: a directory holding `data.mdb` and `lock.mdb`, and the databases in it.
///
/// Opened with `MDB_NOTLS`, so read transactions are not tied to a thread (Swift tasks hop
/// threads), and without `MDB_WRITEMAP`, so a full disk is a `write` error instead of a
/// SIGBUS. Transactions are synchronous closures: never `await` inside one.
/// Several handles on one store in a process share one LMDB environment
/// (`SharedEnvironment`): LMDB does not support two on the same files in one process.
public final class LMDBEnvironment: @unchecked Sendable {
    /// The store directory.
    public let path: String
    private let env: OpaquePointer
    private let mapSize: Int
    private let maxKeySize: Int
    /// The process's one environment on these files (see `SharedEnvironment`).
    private let shared: SharedEnvironment

    /// How a store is opened: read-only stores never write a byte (not even LMDB's lock
    /// file when it cannot be written), so a read-only mount or another user's files work.
    public enum Access: Sendable, Equatable {
        case readWrite
        case readOnly
    }

    /// The access this handle was opened with.
    public let access: Access
    /// Where LMDB mapped the file, and how far the file reached when it was opened (for
    /// read-only stores the file cannot grow under us; see `ValueBounds`).
    private let mapRange: (start: UInt, count: Int)?
    private let pinnedFileSize: Int?

    /// Opens (creating if needed) the store in the directory `path`. Opening a store this
    /// process already has open shares that environment (LMDB forbids two).
    ///
    /// An existing data file is checked first (`StoreFileMeta`): a file shorter than its
    /// meta pages say is `.corrupted`, not a SIGBUS later. A read-only open needs the
    /// data file to exist, uses LMDB's lock file when it can and goes without it
    /// (`MDB_NOLOCK`) when it cannot be written, and replaces the part of the map past
    /// the end of the file with zero pages, so damaged pages that point past the end read
    /// zeros instead of raising SIGBUS.
    /// - Parameters:
    ///   - mapSize: the most bytes the store may ever hold; address space only, the file
    ///     grows as needed. Writes beyond it fail with `.mapFull`.
    ///   - maxDatabases: the most named databases, 1…62.
    ///   - maxReaders: the most read transactions open at once, across processes.
    ///   - durable: false skips the fsync at commit (`MDB_NOSYNC`): much faster, and a
    ///     crash may lose the last commits but never corrupts the store. Call `sync()`.
    ///   - access: `.readOnly` for commands that only read.
    public init(path: String, mapSize: Int = 1 << 40, maxDatabases: Int = 16, maxReaders: Int = 126,
                durable: Bool = true, access: Access = .readWrite) throws(StoreError) {
        precondition(mapSize > 0, "mapSize must be positive, got \(mapSize) for \(path)")
        precondition((1...62).contains(maxDatabases), "maxDatabases must be 1…62, got \(maxDatabases) for \(path)")
        precondition(maxReaders > 0, "maxReaders must be positive, got \(maxReaders) for \(path)")
        if access == .readWrite { try makeDirectory(path) }
        if let why = StoreAssertions.knownDamage(path) {
            throw StoreFileMeta.damaged(path + "/data.mdb", "is damaged: \(why)")
        }
        let fileSize = try Self.checkDataFile(path, mustExist: access == .readOnly)
        let settings = SharedEnvironment.Settings(mapSize: mapSize, maxDatabases: maxDatabases, maxReaders: maxReaders,
                                                  durable: durable, readOnly: access == .readOnly)
        shared = try SharedEnvironment.acquire(path: path, settings: settings) { () throws(StoreError) -> OpaquePointer in
            var flags = UInt32(MDB_NOTLS)
            if !durable { flags |= UInt32(MDB_NOSYNC) }
            if access == .readOnly { flags |= UInt32(MDB_RDONLY) }
            var opened = Self.openHandle(path: path, flags: flags, settings: settings)
            if access == .readOnly, case .failure(let e) = opened, [EACCES, EPERM, EROFS, EAGAIN].contains(e.lmdbCode) {
                // The lock file cannot be created or written (a read-only mount, another
                // user's files): read without it. Nothing else of ours writes these files.
                opened = Self.openHandle(path: path, flags: flags | UInt32(MDB_NOLOCK), settings: settings)
            }
            let handle = try opened.get()
            if access == .readWrite {
                // Free reader slots left behind by crashed processes, so they cannot fill the table.
                var dead: Int32 = 0
                _ = mdb_reader_check(handle, &dead)
            } else if let fileSize, let map = Self.mappedRange(handle, mapSize: mapSize) {
                Self.zeroMapPastEnd(map, fileSize: fileSize)
            }
            return handle
        }
        self.path = path
        self.env = shared.env
        self.mapSize = mapSize
        self.maxKeySize = shared.maxKeySize
        self.access = access
        // LMDB does not tell where it mapped the file (me_mapaddr is only set for a fixed
        // map); without it the bounds stay open and only the pre-open check protects.
        mapRange = Self.mappedRange(shared.env, mapSize: mapSize)
        pinnedFileSize = shared.settings.readOnly ? fileSize : nil
    }

    /// Checks the data file before LMDB maps it; its size, or nil when there is none yet.
    private static func checkDataFile(_ path: String, mustExist: Bool) throws(StoreError) -> Int? {
        let file = path + "/data.mdb"
        let fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT && !mustExist { return nil }
            if err == ELOOP {
                throw StoreFileMeta.damaged(file, "is a symbolic link; a store file must be a regular file in the store folder")
            }
            try check(err, path: path, operation: "opening the store file \(file)")
            return nil
        }
        defer { close(fd) }
        return try StoreFileMeta.check(fd: fd, path: file).fileSize
    }

    private static func openHandle(path: String, flags: UInt32, settings: SharedEnvironment.Settings) -> Result<OpaquePointer, StoreError> {
        var handle: OpaquePointer?
        var rc = mdb_env_create(&handle)
        guard rc == MDB_SUCCESS, let handle else {
            return .failure(storeError(rc, path: path, operation: "creating the LMDB environment"))
        }
        StoreAssertions.register(handle, path: path)
        rc = mdb_env_set_mapsize(handle, settings.mapSize)
        if rc == MDB_SUCCESS { rc = mdb_env_set_maxdbs(handle, MDB_dbi(settings.maxDatabases)) }
        if rc == MDB_SUCCESS { rc = mdb_env_set_maxreaders(handle, UInt32(settings.maxReaders)) }
        if rc == MDB_SUCCESS { rc = mdb_env_open(handle, path, flags, 0o600) }
        if rc == MDB_SUCCESS { rc = StoreAssertions.whileOpening { Self.touchRoots(handle) } }
        if rc != MDB_SUCCESS {
            StoreAssertions.unregister(handle)
            mdb_env_close(handle)
            return .failure(storeError(rc, path: path, operation: "opening the store", mapSize: settings.mapSize))
        }
        return .success(handle)
    }

    /// A first read of the main database (the names of the others), while a failed LMDB
    /// check still counts as one at open.
    private static func touchRoots(_ handle: OpaquePointer) -> Int32 {
        var txn: OpaquePointer?
        var rc = mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn)
        guard rc == MDB_SUCCESS else { return rc }
        var stat = MDB_stat()
        rc = mdb_stat(txn, 1, &stat)
        mdb_txn_abort(txn)
        return rc
    }

    /// Maps zero pages over the part of a read-only map past the end of the file (which
    /// would raise SIGBUS when touched). Read-only private anonymous pages cost neither
    /// memory nor commit charge. If it cannot be done, the value bounds still hold.
    private static func zeroMapPastEnd(_ map: (start: UInt, count: Int), fileSize: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let covered = (fileSize + page - 1) / page * page
        guard covered < map.count, let base = UnsafeMutableRawPointer(bitPattern: map.start) else { return }
        _ = mmap(base + covered, map.count - covered, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0)
    }

    /// Where LMDB mapped the data file of `handle`: the mapping of that file (device and
    /// inode) of `mapSize` bytes in /proc/self/maps.
    private static func mappedRange(_ handle: OpaquePointer, mapSize: Int) -> (start: UInt, count: Int)? {
        var fd: Int32 = -1
        var st = Glibc.stat()
        guard mdb_env_get_fd(handle, &fd) == MDB_SUCCESS, fstat(fd, &st) == 0,
              let maps = try? readSmallFile("/proc/self/maps") else { return nil }
        // glibc's major()/minor() split of a 64-bit dev_t (macros Swift does not import).
        let dev = UInt64(st.st_dev)
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
        let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
        let device = String(major, radix: 16) + ":" + String(minor, radix: 16)
        for line in maps.split(separator: UInt8(ascii: "\n")) {
            // start-end perms offset major:minor inode path
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5, UInt64(String(decoding: fields[4], as: UTF8.self)) == UInt64(st.st_ino) else { continue }
            let listed = String(decoding: fields[3], as: UTF8.self).split(separator: ":").map { String(Int($0, radix: 16) ?? -1, radix: 16) }
            guard listed.joined(separator: ":") == device else { continue }
            let range = fields[0].split(separator: UInt8(ascii: "-")).compactMap { UInt(String(decoding: $0, as: UTF8.self), radix: 16) }
            guard range.count == 2, range[1] > range[0], Int(range[1] - range[0]) == mapSize else { continue }
            return (range[0], mapSize)
        }
        return nil
    }

    /// A /proc file, read whole (its size is not known in advance).
    private static func readSmallFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buffer[..<n]
        }
        return out
    }

    deinit {
        shared.release()
    }

    /// The named database `name`, created if missing (in its own write transaction, so
    /// do not call it inside `write`). Calling it again with the same name returns the
    /// same handle.
    public func openDatabase(_ name: String) throws(StoreError) -> LMDBDatabase {
        precondition(!name.isEmpty, "empty database name for \(path)")
        let operation = "opening database \"\(name)\""
        if access == .readOnly {
            guard let db = try openExistingDatabase(name) else {
                throw StoreError(code: .notFound, path: path, lmdbCode: MDB_NOTFOUND,
                                 message: "the store at \(path) has no database \"\(name)\": it is not the kind of store expected here, or it is damaged")
            }
            return db
        }
        shared.writer.checkNotNested(path, operation)
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), path: path, operation: operation, mapSize: mapSize)
        var dbi = MDB_dbi()
        let rc = StoreAssertions.whileOpening { mdb_dbi_open(txn, name, UInt32(MDB_CREATE), &dbi) }
        if rc != MDB_SUCCESS {
            mdb_txn_abort(txn)
            throw storeError(rc, path: path, operation: operation, mapSize: mapSize)
        }
        try check(mdb_txn_commit(txn), path: path, operation: operation, mapSize: mapSize)
        return LMDBDatabase(name: name, dbi: dbi, environment: ObjectIdentifier(self))
    }

    /// The named database `name` if the store has it (nil otherwise), opened without
    /// writing anything: the way to open databases of a read-only store.
    public func openExistingDatabase(_ name: String) throws(StoreError) -> LMDBDatabase? {
        precondition(!name.isEmpty, "empty database name for \(path)")
        let operation = "opening database \"\(name)\""
        shared.writer.checkNotNested(path, operation)
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), path: path, operation: operation, mapSize: mapSize)
        var dbi = MDB_dbi()
        let rc = StoreAssertions.whileOpening { mdb_dbi_open(txn, name, 0, &dbi) }
        if rc == MDB_NOTFOUND {
            mdb_txn_abort(txn)
            return nil
        }
        if rc != MDB_SUCCESS {
            mdb_txn_abort(txn)
            throw storeError(rc, path: path, operation: operation, mapSize: mapSize)
        }
        // Committing a read transaction keeps the handle open for the environment.
        try check(mdb_txn_commit(txn), path: path, operation: operation, mapSize: mapSize)
        return LMDBDatabase(name: name, dbi: dbi, environment: ObjectIdentifier(self))
    }

    /// Checks every B-tree page of the store with our own reader (`StorePageWalk`) before
    /// LMDB reads any of them: call it right after opening, before `openDatabase`. A page
    /// LMDB would misread (damaged node flags, offsets, sizes, page types, overflow page
    /// numbers) is `.corrupted`. The pages are those of a read transaction begun here, so a
    /// writer in another process cannot reuse them while they are read.
    @discardableResult
    public func verifyPages() throws(StoreError) -> PageWalkFigures {
        let operation = "checking the store's pages"
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), path: path, operation: operation, mapSize: mapSize)
        defer { mdb_txn_abort(txn) }
        var fd: Int32 = -1
        try check(mdb_env_get_fd(env, &fd), path: path, operation: operation, mapSize: mapSize)
        let file = path + "/data.mdb"
        let meta = try StoreFileMeta.check(fd: fd, path: file, transaction: UInt64(mdb_txn_id(txn))).meta
        return try StorePageWalk.walk(fd: fd, path: file, meta: meta, maxKeySize: maxKeySize)
    }

    /// Walks every page LMDB reaches from the roots (the free list, the main database,
    /// and `databases`) and checks every key and value lies inside the file, and every
    /// free page number inside the last page: a store that passes can be read and
    /// written without LMDB touching a page outside the file. Values are not read
    /// (their checksums are the caller's business); keys and branch pages are.
    public func verifyStructure(_ databases: [LMDBDatabase]) throws(StoreError) {
        let operation = "checking the store's pages"
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), path: path, operation: operation, mapSize: mapSize)
        guard let txn else { preconditionFailure("mdb_txn_begin succeeded without a transaction for \(path)") }
        defer { mdb_txn_abort(txn) }
        var info = MDB_envinfo()
        try check(mdb_env_info(env, &info), path: path, operation: operation, mapSize: mapSize)
        let core = core(txn, bounds: try bounds(readOnlyTransaction: true))
        try StoreAssertions.whileOpening { () throws(StoreError) in
            try core.verifyStructure(databases, lastPage: UInt64(info.me_last_pgno))
        }
    }

    /// Runs `body` in a read-only snapshot; the snapshot ends when `body` returns.
    /// Errors from `body` are rethrown as they are.
    public func read<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), path: path,
                  operation: "starting a read transaction", mapSize: mapSize)
        guard let txn else { preconditionFailure("mdb_txn_begin succeeded without a transaction for \(path)") }
        // A read transaction has nothing to commit; aborting just releases the snapshot.
        defer { mdb_txn_abort(txn) }
        let transaction = ReadTransaction(core: core(txn, bounds: try bounds(readOnlyTransaction: true)))
        return try body(transaction)
    }

    /// Runs `body` in the store's single write transaction: commits when `body` returns,
    /// aborts when it throws (rethrowing its error as it is). Blocks while another write
    /// transaction, in this or another process, is open; never nest `write` calls.
    public func write<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        shared.writer.checkNotNested(path, "starting a write transaction")
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), path: path,
                  operation: "starting a write transaction", mapSize: mapSize)
        guard let txn else { preconditionFailure("mdb_txn_begin succeeded without a transaction for \(path)") }
        shared.writer.enter()
        defer { shared.writer.leave() }
        let result: R
        do {
            let transaction = WriteTransaction(core: core(txn, bounds: try bounds(readOnlyTransaction: false)))
            result = try body(transaction)
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        let grown = shared.settings.durable ? fileEnd() : nil
        // mdb_txn_commit frees the transaction even when it fails.
        try check(mdb_txn_commit(txn), path: path, operation: "committing a write transaction", mapSize: mapSize)
        if let grown { dropPagesWritten(past: grown) }
        return result
    }

    /// The data file's descriptor and length, before a commit that may grow it.
    private func fileEnd() -> (fd: Int32, size: off_t)? {
        var fd: Int32 = -1
        var st = Glibc.stat()
        guard mdb_env_get_fd(env, &fd) == MDB_SUCCESS, fstat(fd, &st) == 0 else { return nil }
        return (fd, st.st_size)
    }

    /// After a durable commit (flushed, so its pages are clean): drops from the page cache
    /// what the commit appended to the file and nothing here has mapped — a backup's
    /// shards, written once and not read again by this process. Kept, they pushed the
    /// user's own working set out of memory, and a backup paid for fresh page-cache pages
    /// on every write: on a VM whose memory is backed on first touch, a 1 GiB first backup
    /// (3-of-5 over five targets) took 1.1–1.4 times as long with them. Pages a
    /// reader or LMDB itself mapped (the tree's) are left alone by the kernel.
    private func dropPagesWritten(past end: (fd: Int32, size: off_t)) {
        _ = posix_fadvise(end.fd, end.size & ~4095, 0, POSIX_FADV_DONTNEED)
    }

    /// Flushes committed data to disk; needed with `durable: false` before declaring
    /// anything safe.
    public func sync() throws(StoreError) {
        try check(mdb_env_sync(env, 1), path: path, operation: "flushing the store to disk", mapSize: mapSize)
    }

    /// Writes a compacted copy of the store (only the pages in use, in order) to a new
    /// file at `file`, flushed to disk before returning: LMDB reuses freed pages but never
    /// shrinks its file, so giving space back means replacing the file by such a copy.
    /// Fails if `file` exists.
    public func copyCompacted(toFile file: String) throws(StoreError) {
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw storeError(errno, path: path, operation: "creating the compacted copy \(file)") }
        defer { close(fd) }
        try check(mdb_env_copyfd2(env, fd, UInt32(MDB_CP_COMPACT)), path: path,
                  operation: "writing a compacted copy to \(file)", mapSize: mapSize)
        guard fsync(fd) == 0 else { throw storeError(errno, path: path, operation: "flushing the compacted copy \(file)") }
    }

    /// How much of the store is in use.
    public func stat() throws(StoreError) -> LMDBStat {
        var info = MDB_envinfo()
        try check(mdb_env_info(env, &info), path: path, operation: "reading store information", mapSize: mapSize)
        var stat = MDB_stat()
        try check(mdb_env_stat(env, &stat), path: path, operation: "reading store information", mapSize: mapSize)
        let pageSize = Int(stat.ms_psize)
        return LMDBStat(mapSize: info.me_mapsize, usedBytes: (info.me_last_pgno + 1) * pageSize,
                        pageSize: pageSize, readers: Int(info.me_numreaders), maxReaders: Int(info.me_maxreaders))
    }

    private func core(_ txn: OpaquePointer, bounds: ValueBounds) -> TransactionCore {
        TransactionCore(txn: txn, path: path, mapSize: mapSize, maxKeySize: maxKeySize,
                        environment: ObjectIdentifier(self), bounds: bounds)
    }

    /// Where values of a transaction begun now may lie: in the map, below the end of the
    /// file (pinned at open for a read-only store, whose map past it reads zeros; the
    /// file's current size otherwise, one fstat per transaction).
    private func bounds(readOnlyTransaction: Bool) throws(StoreError) -> ValueBounds {
        var fileSize: Int
        if let pinnedFileSize {
            fileSize = pinnedFileSize
            var info = MDB_envinfo()
            if mdb_env_info(env, &info) == MDB_SUCCESS, (info.me_last_pgno + 1) * (try pageSize()) > pinnedFileSize {
                throw StoreError(code: .other, path: path, lmdbCode: 0,
                                 message: "the store at \(path) grew while this command was reading it (another cairn process is writing to it): run the command again when that one has finished")
            }
        } else {
            var fd: Int32 = -1
            var st = Glibc.stat()
            guard mdb_env_get_fd(env, &fd) == MDB_SUCCESS, fstat(fd, &st) == 0 else {
                throw StoreError(code: .io, path: path, lmdbCode: 0, message: "cannot examine the store file in \(path): \(String(cString: strerror(errno)))")
            }
            fileSize = Int(st.st_size)
        }
        fileSize = min(fileSize, mapSize)
        guard let mapRange else { return ValueBounds.unknown }
        return ValueBounds(mapStart: mapRange.start, mapEnd: mapRange.start + UInt(mapRange.count),
                           dataEnd: mapRange.start + UInt(fileSize), readOnlyTransaction: readOnlyTransaction)
    }

    private func pageSize() throws(StoreError) -> Int {
        var stat = MDB_stat()
        try check(mdb_env_stat(env, &stat), path: path, operation: "reading store information", mapSize: mapSize)
        return Int(stat.ms_psize)
    }
}

/// A snapshot of an environment's size figures, from `LMDBEnvironment.stat()`.
public struct LMDBStat: Sendable, Hashable {
    /// The configured map size: the most bytes the store may hold.
    public let mapSize: Int
    /// Bytes of the map in use (up to the last used page); compare with `mapSize`.
    public let usedBytes: Int
    /// LMDB's page size.
    public let pageSize: Int
    /// Reader slots in use (including stale ones from dead processes).
    public let readers: Int
    /// The reader table's size.
    public let maxReaders: Int
}

/// What `LMDBEnvironment.verifyPages()` read: B-tree pages (one pread each), big values
/// (the first 16 bytes of their overflow pages) and databases.
public struct PageWalkFigures: Sendable, Hashable {
    public internal(set) var treePages = 0
    public internal(set) var bigValues = 0
    public internal(set) var databases = 0
}
