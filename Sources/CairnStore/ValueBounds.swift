internal import CLMDB

/// Where the keys and values LMDB hands back may lie, checked before anyone touches them:
/// a damaged page can make LMDB return a pointer or a length that reaches past the end of
/// the file (SIGBUS in the map) or out of the map altogether (SIGSEGV). Such a value is a
/// `.corrupted` error instead.
///
/// In a read transaction every value lies in the map below the end of the file. A write
/// transaction also sees pages it changed, which live in LMDB's heap until the commit:
/// values outside the map are those and are trusted.
struct ValueBounds {
    let mapStart: UInt
    let mapEnd: UInt
    /// The map's address plus the file's size: nothing at or past it is backed by the file.
    let dataEnd: UInt
    let readOnlyTransaction: Bool
    /// When the map could not be found: every value is taken as it is.
    private let open: Bool

    init(mapStart: UInt, mapEnd: UInt, dataEnd: UInt, readOnlyTransaction: Bool) {
        self.mapStart = mapStart
        self.mapEnd = mapEnd
        self.dataEnd = dataEnd
        self.readOnlyTransaction = readOnlyTransaction
        open = false
    }

    private init() {
        mapStart = 0
        mapEnd = 0
        dataEnd = 0
        readOnlyTransaction = false
        open = true
    }

    static let unknown = ValueBounds()

    /// The value as a buffer, once it is known to lie where it may.
    func checked(_ value: MDB_val, path: String, what: String) throws(StoreError) -> UnsafeRawBufferPointer {
        guard value.mv_size > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        if open { return value.buffer }
        let start = UInt(bitPattern: value.mv_data)
        let (end, overflow) = start.addingReportingOverflow(UInt(value.mv_size))
        let inMap = start >= mapStart && start < mapEnd
        if inMap || readOnlyTransaction {
            guard inMap, !overflow, end <= dataEnd else {
                throw damaged(path, "\(what) of \(value.mv_size) bytes at map offset \(Int(bitPattern: start &- mapStart)) past the end of the file (\(dataEnd - mapStart) bytes)")
            }
        }
        return value.buffer
    }

    func damaged(_ path: String, _ what: String) -> StoreError {
        StoreError(code: .corrupted, path: path, lmdbCode: MDB_CORRUPTED,
                   message: "the store file in \(path) is damaged (\(what)): move it aside (Cairn's `check` does this and rebuilds the target) or restore it from a copy")
    }
}
