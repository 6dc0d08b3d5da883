/// The single write transaction of the store, alive only inside `LMDBEnvironment.write`:
/// everything written commits together when the closure returns, or not at all if it
/// throws. It sees its own writes. Not `Sendable`: LMDB ties a write transaction to the
/// thread that began it.
///
/// After any write, buffers obtained earlier in the transaction may be stale.
public struct WriteTransaction: ~Copyable, LMDBReadable {
    let core: TransactionCore

    init(core: TransactionCore) { self.core = core }

    public func get(_ db: LMDBDatabase, _ key: [UInt8]) throws(StoreError) -> [UInt8]? {
        try core.get(db, key)
    }

    public func withValue<R>(_ db: LMDBDatabase, _ key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        try core.withValue(db, key, body)
    }

    public func contains(_ db: LMDBDatabase, _ key: [UInt8]) throws(StoreError) -> Bool {
        try core.contains(db, key)
    }

    public func forEach(_ db: LMDBDatabase, prefix: [UInt8],
                        _ body: ([UInt8], UnsafeRawBufferPointer) throws -> Bool) throws {
        try core.forEach(db, prefix: prefix, body)
    }

    public func count(_ db: LMDBDatabase) throws(StoreError) -> Int {
        try core.count(db)
    }

    /// Stores `value` under `key`, replacing any previous value.
    public func put(_ db: LMDBDatabase, _ key: [UInt8], _ value: [UInt8]) throws(StoreError) {
        try core.put(db, key, value)
    }

    /// Reserves `size` bytes under `key` and lets `fill` write them in place, saving a copy
    /// for large values. `fill` must write every byte. If it throws, the key is deleted
    /// (its previous value is gone unless the transaction aborts, which it does when the
    /// error leaves the `write` closure).
    public func put(_ db: LMDBDatabase, _ key: [UInt8], reserving size: Int,
                    _ fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        try core.put(db, key, reserving: size, fill)
    }

    /// Removes `key`; false if it was not there.
    @discardableResult
    public func delete(_ db: LMDBDatabase, _ key: [UInt8]) throws(StoreError) -> Bool {
        try core.delete(db, key)
    }

    /// Removes every key of `db`, keeping the database itself.
    public func clear(_ db: LMDBDatabase) throws(StoreError) {
        try core.clear(db)
    }
}
