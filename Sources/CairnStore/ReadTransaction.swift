internal import CLMDB
import Synchronization

/// A read-only snapshot of the store, alive only inside `LMDBEnvironment.read`.
///
/// It is `Sendable`: the environment uses `MDB_NOTLS`, so one read transaction may be
/// used by several threads at once (for example inside `DispatchQueue.concurrentPerform`).
/// LMDB lazily loads a named database's root on first use in a transaction, which writes
/// to the transaction; `prepare` does that once per database under a lock so concurrent
/// readers never race on it.
public struct ReadTransaction: ~Copyable, @unchecked Sendable, LMDBReadable {
    let core: TransactionCore
    /// Bit `dbi` is set once database `dbi` has been loaded in this transaction.
    private let loaded = Atomic<UInt64>(0)
    private let loading = Mutex<Void>(())

    init(core: TransactionCore) { self.core = core }

    /// Loads `db`'s root into the transaction once, before any concurrent use of it.
    private func prepare(_ db: LMDBDatabase) {
        let bit = UInt64(1) << UInt64(db.dbi)
        if loaded.load(ordering: .acquiring) & bit != 0 { return }
        loading.withLock { _ in
            guard loaded.load(ordering: .relaxed) & bit == 0 else { return }
            var stat = MDB_stat()
            // Any failure here recurs, and is reported, in the operation that follows.
            _ = mdb_stat(core.txn, db.dbi, &stat)
            loaded.bitwiseOr(bit, ordering: .releasing)
        }
    }

    public func get(_ db: LMDBDatabase, _ key: [UInt8]) throws(StoreError) -> [UInt8]? {
        prepare(db)
        return try core.get(db, key)
    }

    public func withValue<R>(_ db: LMDBDatabase, _ key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        prepare(db)
        return try core.withValue(db, key, body)
    }

    public func contains(_ db: LMDBDatabase, _ key: [UInt8]) throws(StoreError) -> Bool {
        prepare(db)
        return try core.contains(db, key)
    }

    public func forEach(_ db: LMDBDatabase, prefix: [UInt8],
                        _ body: ([UInt8], UnsafeRawBufferPointer) throws -> Bool) throws {
        prepare(db)
        try core.forEach(db, prefix: prefix, body)
    }

    public func count(_ db: LMDBDatabase) throws(StoreError) -> Int {
        prepare(db)
        return try core.count(db)
    }
}
