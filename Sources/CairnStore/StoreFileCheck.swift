#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// What the two meta pages of an LMDB data file say, read with pread(2) before LMDB maps
/// the file: LMDB maps more than the file holds, and touching a page past the end of the
/// file is a SIGBUS, so a truncated or partly copied file must be caught here.
///
/// Layout (LMDB 0.9, 64-bit, `MDB_meta` after the 16-byte page header of pages 0 and 1):
/// magic u32 `0xBEEFC0DE` | version u32 (1) | address u64 | map size u64 |
/// 2 × `MDB_db` (pad u32 — the page size, in the free database's | flags u16 | depth u16 |
/// branch, leaf, overflow pages u64 | entries u64 | root page u64) | last page u64 | txnid u64.
/// All in the machine's byte order (LMDB files are not portable across byte orders).
struct StoreFileMeta: Equatable {
    let pageSize: Int
    let lastPage: UInt64
    let transaction: UInt64
    /// LMDB's free-page database (its records: transaction id → freed page numbers).
    let freeDatabase: DatabaseRecord
    /// The main database, whose records name the other databases.
    let mainDatabase: DatabaseRecord

    var roots: [UInt64] { [freeDatabase.root, mainDatabase.root] }

    static let magic: UInt32 = 0xBEEF_C0DE
    static let dataVersion: UInt32 = 1
    static let headerSize = 16
    static let metaSize = 136
    static let pageFlagMeta: UInt16 = 0x08
    static let noPage = UInt64.max
    static let pageSizes = 512...65536

    /// Reads and checks both meta pages of `file` (an open descriptor of `path`) and
    /// returns the one LMDB will use (the higher transaction id), after checking that the
    /// file holds every page it names.
    /// With `transaction`, the meta of that transaction is used instead (the one a read
    /// transaction of LMDB's sees), and a file whose meta pages no longer hold it (two
    /// commits by another process since) is refused as changing.
    static func check(fd: Int32, path: String, transaction: UInt64? = nil) throws(StoreError) -> (meta: StoreFileMeta, fileSize: Int) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw damaged(path, "cannot be examined (\(String(cString: strerror(errno))))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw damaged(path, "is not a regular file") }
        let fileSize = Int(st.st_size)
        let first = try readMeta(fd: fd, offset: 0, path: path, fileSize: fileSize)
        guard pageSizes.contains(first.pageSize), first.pageSize & (first.pageSize - 1) == 0 else {
            throw damaged(path, "names an impossible page size \(first.pageSize)")
        }
        let second = try readMeta(fd: fd, offset: first.pageSize, path: path, fileSize: fileSize)
        guard second.pageSize == first.pageSize else {
            throw damaged(path, "has meta pages that disagree on the page size (\(first.pageSize), \(second.pageSize))")
        }
        var meta = second.transaction > first.transaction ? second : first
        if let transaction {
            guard let seen = [first, second].first(where: { $0.transaction == transaction }) else {
                throw StoreError(code: .other, path: path, lmdbCode: 0,
                                 message: "the store file \(path) changed while it was being checked (another cairn process is writing to it): run the command again when that one has finished")
            }
            meta = seen
        }
        let needed = (meta.lastPage.addingReportingOverflow(1).partialValue).multipliedReportingOverflow(by: UInt64(meta.pageSize))
        guard meta.lastPage < UInt64(Int.max / meta.pageSize), !needed.overflow else {
            throw damaged(path, "names an impossible last page \(meta.lastPage)")
        }
        guard UInt64(fileSize) >= needed.partialValue else {
            throw damaged(path, "is \(fileSize) bytes but its last transaction uses \(needed.partialValue) (pages 0…\(meta.lastPage) of \(meta.pageSize) bytes): the file was cut short or only partly copied")
        }
        for root in meta.roots where root != noPage && root > meta.lastPage {
            throw damaged(path, "names root page \(root) past its last page \(meta.lastPage)")
        }
        return (meta, fileSize)
    }

    private static func readMeta(fd: Int32, offset: Int, path: String, fileSize: Int) throws(StoreError) -> StoreFileMeta {
        let size = headerSize + metaSize
        guard fileSize >= offset + size else {
            throw damaged(path, "is \(fileSize) bytes, too short to hold its meta page at byte \(offset)")
        }
        var page = [UInt8](repeating: 0, count: size)
        let got = page.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, off_t(offset)) }
        guard got == size else { throw damaged(path, "cannot be read at byte \(offset) (\(String(cString: strerror(errno))))") }
        func u16(_ at: Int) -> UInt16 { page.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt16.self) } }
        func u32(_ at: Int) -> UInt32 { page.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) } }
        func u64(_ at: Int) -> UInt64 { page.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) } }
        let m = headerSize
        guard u16(10) & pageFlagMeta != 0, u32(m) == magic else {
            throw damaged(path, "has no valid meta page at byte \(offset): it is not an LMDB store or its first pages are damaged")
        }
        guard u32(m + 4) == dataVersion else {
            throw damaged(path, "has a meta page of LMDB data version \(u32(m + 4)) at byte \(offset), not \(dataVersion)")
        }
        func database(_ at: Int) -> DatabaseRecord {
            DatabaseRecord(flags: u16(at + 4), depth: u16(at + 6), root: u64(at + 40))
        }
        return StoreFileMeta(pageSize: Int(u32(m + 24)), lastPage: u64(m + 120), transaction: u64(m + 128),
                             freeDatabase: database(m + 24), mainDatabase: database(m + 72))
    }

    static func damaged(_ path: String, _ what: String) -> StoreError {
        StoreError(code: .corrupted, path: path, lmdbCode: 0,
                   message: "the store file \(path) \(what): move it aside (Cairn's `check` does this and rebuilds the target) or restore it from a copy")
    }
}

/// The part of LMDB's `MDB_db` (48 bytes: pad u32 | flags u16 | depth u16 | branch, leaf,
/// overflow page counts u64 | entries u64 | root page u64) that says where a database's
/// B-tree is and how it may be read. The same record sits in the meta pages (free and
/// main databases) and in the main database's leaves (named databases).
struct DatabaseRecord: Equatable {
    let flags: UInt16
    let depth: UInt16
    let root: UInt64

    static let size = 48

    /// Reads a record at `offset` of `bytes` (at least `size` bytes from there).
    init(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        self.init(flags: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self),
                  depth: bytes.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self),
                  root: bytes.loadUnaligned(fromByteOffset: offset + 40, as: UInt64.self))
    }

    init(flags: UInt16, depth: UInt16, root: UInt64) {
        self.flags = flags
        self.depth = depth
        self.root = root
    }
}
