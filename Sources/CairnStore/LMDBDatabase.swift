/// A named database inside an `LMDBEnvironment`, as returned by `openDatabase(_:)`.
/// It is only a handle (LMDB's `MDB_dbi` plus the name for messages): cheap to copy,
/// valid for the life of the environment that opened it, and meaningless in any other.
public struct LMDBDatabase: Sendable, Hashable {
    /// The name passed to `openDatabase(_:)`.
    public let name: String
    /// LMDB's handle; an index into the environment's table of databases.
    let dbi: UInt32
    /// The environment that opened the handle, to catch a handle used with another one.
    let environment: ObjectIdentifier
}
