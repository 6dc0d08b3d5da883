internal import CLMDB

/// The operations shared by read and write transactions, over a raw `MDB_txn`.
/// `ReadTransaction` and `WriteTransaction` wrap one of these; keeping the LMDB calls here
/// means each call and its error handling is written once.
struct TransactionCore {
    let txn: OpaquePointer
    let path: String
    let mapSize: Int
    let maxKeySize: Int
    let environment: ObjectIdentifier

    /// Checks the handle belongs to this environment and the key fits LMDB's limits;
    /// an empty key or a foreign handle is a bug in the caller, a long key is data.
    func validate(_ db: LMDBDatabase, _ key: [UInt8]) throws(StoreError) {
        validate(db)
        precondition(!key.isEmpty, "empty key for database \"\(db.name)\" in \(path): LMDB keys are 1…\(maxKeySize) bytes")
        if key.count > maxKeySize {
            throw StoreError(code: .keyTooLong, path: path, lmdbCode: 0,
                             message: "a key of \(key.count) bytes for database \"\(db.name)\" in \(path) "
                                + "is longer than the \(maxKeySize) bytes LMDB allows: this is a bug in Cairn, please report it")
        }
    }

    func validate(_ db: LMDBDatabase) {
        precondition(db.environment == environment,
                     "database \"\(db.name)\" (dbi \(db.dbi)) was opened by another environment than \(path)")
    }

    func check(_ rc: Int32, _ operation: String, fileID: String = #fileID, line: Int = #line) throws(StoreError) {
        try CairnStore.check(rc, path: path, operation: operation, mapSize: mapSize, fileID: fileID, line: line)
    }

    // MARK: reading

    /// Looks `key` up and hands the value, in place in the map, to `body`.
    func withValue<R>(_ db: LMDBDatabase, _ key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        try validate(db, key)
        var data = MDB_val()
        let rc = withMDBValue(key) { k in mdb_get(txn, db.dbi, &k, &data) }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "reading from database \"\(db.name)\"")
        return try body(data.buffer)
    }

    func get(_ db: LMDBDatabase, _ key: [UInt8]) throws(StoreError) -> [UInt8]? {
        try validate(db, key)
        var data = MDB_val()
        let rc = withMDBValue(key) { k in mdb_get(txn, db.dbi, &k, &data) }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "reading from database \"\(db.name)\"")
        return [UInt8](data.buffer)
    }

    func contains(_ db: LMDBDatabase, _ key: [UInt8]) throws(StoreError) -> Bool {
        try validate(db, key)
        var data = MDB_val()
        let rc = withMDBValue(key) { k in mdb_get(txn, db.dbi, &k, &data) }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "reading from database \"\(db.name)\"")
        return true
    }

    func count(_ db: LMDBDatabase) throws(StoreError) -> Int {
        validate(db)
        var stat = MDB_stat()
        try check(mdb_stat(txn, db.dbi, &stat), "counting database \"\(db.name)\"")
        return stat.ms_entries
    }

    /// Walks keys in byte order from the first key ≥ `prefix` while they start with it.
    func forEach(_ db: LMDBDatabase, prefix: [UInt8],
                 _ body: ([UInt8], UnsafeRawBufferPointer) throws -> Bool) throws {
        if prefix.isEmpty { validate(db) } else { try validate(db, prefix) }
        let operation = "iterating database \"\(db.name)\""
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, db.dbi, &cursor), operation)
        defer { mdb_cursor_close(cursor) }

        var key = MDB_val()
        var data = MDB_val()
        var rc: Int32
        if prefix.isEmpty {
            rc = mdb_cursor_get(cursor, &key, &data, MDB_FIRST)
        } else {
            rc = withMDBValue(prefix) { p in
                key = p
                return mdb_cursor_get(cursor, &key, &data, MDB_SET_RANGE)
            }
        }
        while rc == MDB_SUCCESS {
            let keyBytes = key.buffer
            guard keyBytes.starts(with: prefix) else { return }
            guard try body([UInt8](keyBytes), data.buffer) else { return }
            rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try check(rc, operation) }
    }

    // MARK: writing

    func put(_ db: LMDBDatabase, _ key: [UInt8], _ value: [UInt8]) throws(StoreError) {
        try validate(db, key)
        let rc = withMDBValue(key) { k in
            withMDBValue(value) { v in mdb_put(txn, db.dbi, &k, &v, 0) }
        }
        try check(rc, "writing \(value.count) bytes to database \"\(db.name)\"")
    }

    func put(_ db: LMDBDatabase, _ key: [UInt8], reserving size: Int,
             _ fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        try validate(db, key)
        precondition(size >= 0, "negative reservation of \(size) bytes for database \"\(db.name)\" in \(path)")
        var data = MDB_val(mv_size: size, mv_data: nil)
        let rc = withMDBValue(key) { k in mdb_put(txn, db.dbi, &k, &data, UInt32(MDB_RESERVE)) }
        try check(rc, "writing \(size) bytes to database \"\(db.name)\"")
        do {
            try fill(UnsafeMutableRawBufferPointer(start: data.mv_data, count: size))
        } catch {
            // Never leave uninitialised bytes behind, even if the caller catches and commits.
            _ = withMDBValue(key) { k in mdb_del(txn, db.dbi, &k, nil) }
            throw error
        }
    }

    func delete(_ db: LMDBDatabase, _ key: [UInt8]) throws(StoreError) -> Bool {
        try validate(db, key)
        let rc = withMDBValue(key) { k in mdb_del(txn, db.dbi, &k, nil) }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "deleting from database \"\(db.name)\"")
        return true
    }

    func clear(_ db: LMDBDatabase) throws(StoreError) {
        validate(db)
        try check(mdb_drop(txn, db.dbi, 0), "clearing database \"\(db.name)\"")
    }
}
