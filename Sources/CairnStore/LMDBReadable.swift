/// The read operations, offered by both `ReadTransaction` and `WriteTransaction` so code
/// that only reads can take either. Transactions are noncopyable, so generic code spells
/// the parameter `borrowing some LMDBReadable & ~Copyable`.
///
/// Buffers handed to closures point into LMDB's memory map: they are valid only inside
/// the closure, and must not be used after the transaction writes again.
public protocol LMDBReadable: ~Copyable {
    /// The value stored under `key`, copied out; nil if there is none.
    func get(_ db: LMDBDatabase, _ key: [UInt8]) throws(StoreError) -> [UInt8]?
    /// Calls `body` with the value under `key` in place (no copy); nil if there is none.
    func withValue<R>(_ db: LMDBDatabase, _ key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R?
    /// Whether a value is stored under `key`.
    func contains(_ db: LMDBDatabase, _ key: [UInt8]) throws(StoreError) -> Bool
    /// Calls `body` with each key starting with `prefix` and its value, in byte order,
    /// until `body` returns false or the keys run out.
    func forEach(_ db: LMDBDatabase, prefix: [UInt8],
                 _ body: ([UInt8], UnsafeRawBufferPointer) throws -> Bool) throws
    /// The number of keys in `db`.
    func count(_ db: LMDBDatabase) throws(StoreError) -> Int
}

extension LMDBReadable where Self: ~Copyable {
    /// Calls `body` with every key and value of `db` in byte order, until it returns false.
    public func forEach(_ db: LMDBDatabase, _ body: ([UInt8], UnsafeRawBufferPointer) throws -> Bool) throws {
        try forEach(db, prefix: [], body)
    }
}
