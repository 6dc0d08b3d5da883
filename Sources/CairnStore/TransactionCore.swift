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
    let bounds: ValueBounds

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
        return try body(try bounds.checked(data, path: path, what: "a value of database \"\(db.name)\""))
    }

    func get(_ db: LMDBDatabase, _ key: [UInt8]) throws(StoreError) -> [UInt8]? {
        try validate(db, key)
        var data = MDB_val()
        let rc = withMDBValue(key) { k in mdb_get(txn, db.dbi, &k, &data) }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "reading from database \"\(db.name)\"")
        return [UInt8](try bounds.checked(data, path: path, what: "a value of database \"\(db.name)\""))
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
            let keyBytes = try bounds.checked(key, path: path, what: "a key of database \"\(db.name)\"")
            let value = try bounds.checked(data, path: path, what: "a value of database \"\(db.name)\"")
            guard keyBytes.starts(with: prefix) else { return }
            guard try body([UInt8](keyBytes), value) else { return }
            rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try check(rc, operation) }
    }

    // MARK: checking the structure

    /// See `LMDBEnvironment.verifyStructure`. LMDB's own database 0 is the free list
    /// (key: transaction id; value: a count and that many page numbers), 1 the main
    /// database that names the others.
    func verifyStructure(_ databases: [LMDBDatabase], lastPage: UInt64) throws(StoreError) {
        let freeList: MDB_dbi = 0, main: MDB_dbi = 1
        try walk(freeList, "the free list") { value throws(StoreError) in
            guard value.count >= 8, value.count % 8 == 0 else {
                throw bounds.damaged(path, "a free-list record of \(value.count) bytes")
            }
            let count = value.loadUnaligned(as: UInt64.self)
            guard count == UInt64(value.count / 8 - 1) else {
                throw bounds.damaged(path, "a free-list record that counts \(count) pages in \(value.count) bytes")
            }
            for i in 1..<(value.count / 8) {
                let page = value.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                guard page <= lastPage else { throw bounds.damaged(path, "free page \(page) past the last page \(lastPage)") }
            }
        }
        try walk(main, "the main database") { _ throws(StoreError) in }
        for db in databases {
            validate(db)
            try walk(db.dbi, "database \"\(db.name)\"") { _ throws(StoreError) in }
        }
    }

    /// Visits every key and value of `dbi` in order, each checked against the bounds.
    private func walk(_ dbi: MDB_dbi, _ name: String, _ visit: (UnsafeRawBufferPointer) throws(StoreError) -> Void) throws(StoreError) {
        let operation = "checking \(name)"
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, dbi, &cursor), operation)
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val()
        var data = MDB_val()
        var rc = mdb_cursor_get(cursor, &key, &data, MDB_FIRST)
        while rc == MDB_SUCCESS {
            _ = try bounds.checked(key, path: path, what: "a key of \(name)")
            try visit(try bounds.checked(data, path: path, what: "a value of \(name)"))
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
