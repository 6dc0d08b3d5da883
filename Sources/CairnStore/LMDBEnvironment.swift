internal import CLMDB

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

    /// Opens (creating if needed) the store in the directory `path`. Opening a store this
    /// process already has open shares that environment (LMDB forbids two).
    /// - Parameters:
    ///   - mapSize: the most bytes the store may ever hold; address space only, the file
    ///     grows as needed. Writes beyond it fail with `.mapFull`.
    ///   - maxDatabases: the most named databases, 1…62.
    ///   - maxReaders: the most read transactions open at once, across processes.
    ///   - durable: false skips the fsync at commit (`MDB_NOSYNC`): much faster, and a
    ///     crash may lose the last commits but never corrupts the store. Call `sync()`.
    public init(path: String, mapSize: Int = 1 << 40, maxDatabases: Int = 16, maxReaders: Int = 126,
                durable: Bool = true) throws(StoreError) {
        precondition(mapSize > 0, "mapSize must be positive, got \(mapSize) for \(path)")
        precondition((1...62).contains(maxDatabases), "maxDatabases must be 1…62, got \(maxDatabases) for \(path)")
        precondition(maxReaders > 0, "maxReaders must be positive, got \(maxReaders) for \(path)")
        try makeDirectory(path)
        let settings = SharedEnvironment.Settings(mapSize: mapSize, maxDatabases: maxDatabases, maxReaders: maxReaders,
                                                  durable: durable)
        shared = try SharedEnvironment.acquire(path: path, settings: settings) { () throws(StoreError) -> OpaquePointer in
            var handle: OpaquePointer?
            try check(mdb_env_create(&handle), path: path, operation: "creating the LMDB environment")
            guard let handle else { preconditionFailure("mdb_env_create succeeded without an environment for \(path)") }
            var flags = UInt32(MDB_NOTLS)
            if !durable { flags |= UInt32(MDB_NOSYNC) }
            var rc = mdb_env_set_mapsize(handle, mapSize)
            if rc == MDB_SUCCESS { rc = mdb_env_set_maxdbs(handle, MDB_dbi(maxDatabases)) }
            if rc == MDB_SUCCESS { rc = mdb_env_set_maxreaders(handle, UInt32(maxReaders)) }
            if rc == MDB_SUCCESS { rc = mdb_env_open(handle, path, flags, 0o600) }
            if rc != MDB_SUCCESS {
                mdb_env_close(handle)
                throw storeError(rc, path: path, operation: "opening the store", mapSize: mapSize)
            }
            // Free reader slots left behind by crashed processes, so they cannot fill the table.
            var dead: Int32 = 0
            _ = mdb_reader_check(handle, &dead)
            return handle
        }
        self.path = path
        self.env = shared.env
        self.mapSize = mapSize
        self.maxKeySize = shared.maxKeySize
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
        shared.writer.checkNotNested(path, operation)
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), path: path, operation: operation, mapSize: mapSize)
        var dbi = MDB_dbi()
        let rc = mdb_dbi_open(txn, name, UInt32(MDB_CREATE), &dbi)
        if rc != MDB_SUCCESS {
            mdb_txn_abort(txn)
            throw storeError(rc, path: path, operation: operation, mapSize: mapSize)
        }
        try check(mdb_txn_commit(txn), path: path, operation: operation, mapSize: mapSize)
        return LMDBDatabase(name: name, dbi: dbi, environment: ObjectIdentifier(self))
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
        let transaction = ReadTransaction(core: core(txn))
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
            let transaction = WriteTransaction(core: core(txn))
            result = try body(transaction)
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        // mdb_txn_commit frees the transaction even when it fails.
        try check(mdb_txn_commit(txn), path: path, operation: "committing a write transaction", mapSize: mapSize)
        return result
    }

    /// Flushes committed data to disk; needed with `durable: false` before declaring
    /// anything safe.
    public func sync() throws(StoreError) {
        try check(mdb_env_sync(env, 1), path: path, operation: "flushing the store to disk", mapSize: mapSize)
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

    private func core(_ txn: OpaquePointer) -> TransactionCore {
        TransactionCore(txn: txn, path: path, mapSize: mapSize, maxKeySize: maxKeySize,
                        environment: ObjectIdentifier(self))
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
