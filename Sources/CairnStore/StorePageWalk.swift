#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Our own walk of every B-tree page of an LMDB data file, read with pread(2) before LMDB
/// follows any of them.
///
/// Why: LMDB trusts its pages. A node whose flag bits are damaged into "duplicate data" or
/// "sub-database" makes it follow a sub-database cursor our databases do not have (a null
/// pointer inside liblmdb: SIGSEGV); a damaged node offset, key size or data size makes it
/// read outside the page (SIGBUS past the end of the file); a damaged page type makes a
/// writer think a page is already its own and write into the read-only map. Checking the
/// values LMDB hands back (`ValueBounds`) comes too late for those, so every page LMDB can
/// reach from the meta page of a transaction is checked here first, against the page and
/// the file, for what LMDB itself relies on:
///
/// - a database record: flags our databases may have (the free list: integer keys; the main
///   database and named ones: none), no root exactly when it is empty, depth at most
///   LMDB's cursor stack (32), root inside the file and not a meta page;
/// - a branch or leaf page: its header names its own number, its type is exactly branch or
///   leaf (no dirty, sub-page or fixed-size bits) and the one its depth calls for, the
///   bounds of its free space lie in order inside the page, it has nodes (two in a branch
///   outside the free list, which LMDB asserts), and it is reached once;
/// - a node: its offset even and at or past the free space, its header, key and inline data
///   inside the page, a key size LMDB could have written (8 in the free list, whose keys are
///   compared as integers), flags the database may have (none or "big data"; "sub-database"
///   with a 48-byte record only in the main database), a child page inside the file;
/// - a big value: its overflow pages inside the file, the first one saying it is an
///   overflow page, its number, and at least as many pages as the value needs.
///
/// One pass: each level of each tree is read in page order (sorted, runs of consecutive
/// pages with one pread), and only the first 16 bytes of a value's overflow pages; values
/// themselves are not read.
struct StorePageWalk {
    private let fd: Int32
    private let path: String
    private let pageSize: Int
    private let lastPage: UInt64
    private let maxKeySize: Int
    /// Room for `runPages` pages: consecutive pages are read with one pread.
    private let buffer: UnsafeMutableRawBufferPointer
    /// The page being checked, inside `buffer`.
    private var page: UnsafeRawBufferPointer
    private var visited = Set<UInt64>()
    private(set) var figures = PageWalkFigures()

    // LMDB 0.9's layout (mdb.c): page header pgno u64 | pad u16 | flags u16 | lower u16 |
    // upper u16 (an overflow page: page count u32), then u16 node offsets; a node is
    // lo u16 | hi u16 | flags u16 | key size u16 | key | data (a branch node's child page
    // is lo | hi << 16 | flags << 32; a leaf's data size lo | hi << 16).
    static let pageHeaderSize = 16
    static let nodeHeaderSize = 8
    static let branchPage: UInt16 = 0x01
    static let leafPage: UInt16 = 0x02
    static let overflowPage: UInt16 = 0x04
    static let bigData: UInt16 = 0x01
    static let subDatabase: UInt16 = 0x02
    static let cursorStack = 32
    /// Database flags: reverse keys, sorted duplicates, integer keys, fixed-size, integer
    /// and reverse duplicates (every persistent flag of `mdb_dbi_open`).
    static let databaseFlags: UInt16 = 0x7E
    static let integerKeys: UInt16 = 0x08
    /// The most pages one pread reads (256 KiB of 4 KiB pages).
    static let runPages = 64

    private enum Tree {
        case freeList, main, named(String)

        var name: String {
            switch self {
            case .freeList: "the free list"
            case .main: "the main database"
            case .named(let name): "database \"\(name)\""
            }
        }
    }

    /// Walks every tree of the snapshot `meta` describes, in the open data file `fd`
    /// (`path` names it in messages).
    static func walk(fd: Int32, path: String, meta: StoreFileMeta, maxKeySize: Int) throws(StoreError) -> PageWalkFigures {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: meta.pageSize * runPages, alignment: 8)
        defer { buffer.deallocate() }
        var walk = StorePageWalk(fd: fd, path: path, pageSize: meta.pageSize, lastPage: meta.lastPage, maxKeySize: maxKeySize,
                                 buffer: buffer)
        try walk.walkTree(.freeList, meta.freeDatabase)
        let named = try walk.walkTree(.main, meta.mainDatabase)
        for (name, record) in named { try walk.walkTree(.named(name), record) }
        return walk.figures
    }

    private init(fd: Int32, path: String, pageSize: Int, lastPage: UInt64, maxKeySize: Int, buffer: UnsafeMutableRawBufferPointer) {
        self.fd = fd
        self.path = path
        self.pageSize = pageSize
        self.lastPage = lastPage
        self.maxKeySize = maxKeySize
        self.buffer = buffer
        page = UnsafeRawBufferPointer(rebasing: buffer[0..<pageSize])
    }

    /// Walks one tree level by level; returns the named databases its leaves hold (only
    /// the main database has them).
    @discardableResult
    private mutating func walkTree(_ tree: Tree, _ record: DatabaseRecord) throws(StoreError) -> [(String, DatabaseRecord)] {
        figures.databases += 1
        let allowed: UInt16
        switch tree {
        case .freeList: allowed = Self.integerKeys
        case .main, .named: allowed = 0
        }
        guard record.flags & Self.databaseFlags & ~allowed == 0 else {
            throw damaged("\(tree.name) has flags 0x\(String(record.flags, radix: 16)) our databases never have")
        }
        guard record.root != StoreFileMeta.noPage else {
            guard record.depth == 0 else { throw damaged("\(tree.name) is empty but says it is \(record.depth) pages deep") }
            return []
        }
        guard (1...Self.cursorStack).contains(Int(record.depth)) else {
            throw damaged("\(tree.name) says it is \(record.depth) pages deep (LMDB reads at most \(Self.cursorStack))")
        }
        guard record.root >= 2, record.root <= lastPage else { throw outsideFile(record.root, "\(tree.name)'s root") }
        var level = [record.root]
        var named: [(String, DatabaseRecord)] = []
        var bigValues: [(page: UInt64, size: Int)] = []
        for depth in 1...Int(record.depth) {
            let isLeaf = depth == Int(record.depth)
            var next: [UInt64] = []
            let sorted = level.sorted()
            var start = 0
            while start < sorted.count {
                // A run of consecutive page numbers, read at once.
                var end = start + 1
                while end < sorted.count, end - start < Self.runPages, sorted[end] == sorted[end - 1] + 1 { end += 1 }
                for number in sorted[start..<end] where !visited.insert(number).inserted {
                    throw damaged("page \(number) is reached twice (in \(tree.name)): its tree loops or shares a page")
                }
                try read(sorted[start], count: (end - start) * pageSize)
                figures.treePages += end - start
                for (k, number) in sorted[start..<end].enumerated() {
                    page = UnsafeRawBufferPointer(rebasing: buffer[(k * pageSize)..<((k + 1) * pageSize)])
                    try checkPage(number, tree, isLeaf: isLeaf)
                    for index in 0..<nodeCount {
                        if isLeaf {
                            try checkLeafNode(index, number, tree, bigValues: &bigValues, named: &named)
                        } else {
                            next.append(try childPage(index, number, tree))
                        }
                    }
                }
                start = end
            }
            level = next
        }
        for value in bigValues.sorted(by: { $0.page < $1.page }) { try checkOverflow(value.page, size: value.size, tree) }
        return named
    }

    // MARK: pages

    private var nodeCount: Int { (Int(u16(12)) - Self.pageHeaderSize) / 2 }

    /// Reads `count` bytes from the start of page `number` into the buffer, and makes its
    /// first page the one checked.
    private mutating func read(_ number: UInt64, count: Int) throws(StoreError) {
        let offset = off_t(number) * off_t(pageSize)
        var done = 0
        while done < count {
            let got = pread(fd, buffer.baseAddress! + done, count - done, offset + off_t(done))
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                let why = got == 0 ? "the file ends before it" : String(cString: strerror(errno))
                throw damaged("page \(number + UInt64(done / pageSize)) cannot be read (\(why))")
            }
            done += got
        }
        page = UnsafeRawBufferPointer(rebasing: buffer[0..<pageSize])
    }

    private func checkPage(_ number: UInt64, _ tree: Tree, isLeaf: Bool) throws(StoreError) {
        // Messages are built only when thrown: this runs for every page.
        var what: String { Self.describe(number, tree, isLeaf: isLeaf) }
        let kind = isLeaf ? "leaf" : "branch"
        guard u64(0) == number else { throw damaged("\(what) names itself page \(u64(0))") }
        let flags = u16(10)
        guard flags == (isLeaf ? Self.leafPage : Self.branchPage) else {
            throw damaged("\(what) has page flags 0x\(String(flags, radix: 16)), not those of a \(kind)")
        }
        let lower = Int(u16(12)), upper = Int(u16(14))
        guard lower >= Self.pageHeaderSize, lower % 2 == 0, lower <= upper, upper <= pageSize else {
            throw damaged("\(what) has its free space at \(lower)…\(upper), not inside its \(pageSize) bytes")
        }
        let least: Int
        switch (isLeaf, tree) {
        case (true, _), (false, .freeList): least = 1
        case (false, _): least = 2
        }
        guard nodeCount >= least else { throw damaged("\(what) holds \(nodeCount) nodes") }
    }

    /// Where node `index` starts, once its header and key are known to lie in the page;
    /// and its key size.
    private func node(_ index: Int, _ number: UInt64, _ tree: Tree, isLeaf: Bool) throws(StoreError) -> (offset: Int, keySize: Int) {
        var what: String { Self.describe(number, tree, isLeaf: isLeaf) }
        let offset = Int(u16(Self.pageHeaderSize + 2 * index))
        guard offset % 2 == 0, offset >= Int(u16(14)), offset + Self.nodeHeaderSize <= pageSize else {
            throw damaged("\(what) puts node \(index) at byte \(offset), outside its nodes")
        }
        let keySize = Int(u16(offset + 6))
        guard offset + Self.nodeHeaderSize + keySize <= pageSize else {
            throw damaged("\(what) has node \(index) with a \(keySize)-byte key past the end of the page")
        }
        let keySizes: ClosedRange<Int>
        switch (tree, isLeaf, index) {
        case (_, false, 0): keySizes = 0...pageSize  // a branch's first key is never read
        case (.freeList, _, _): keySizes = 8...8
        case (_, true, _): keySizes = 1...maxKeySize
        case (_, false, _): keySizes = 0...maxKeySize
        }
        guard keySizes.contains(keySize) else {
            throw damaged("\(what) has node \(index) with a key of \(keySize) bytes, which LMDB never writes there")
        }
        return (offset, keySize)
    }

    private func childPage(_ index: Int, _ number: UInt64, _ tree: Tree) throws(StoreError) -> UInt64 {
        let (offset, _) = try node(index, number, tree, isLeaf: false)
        let child = UInt64(u16(offset)) | UInt64(u16(offset + 2)) << 16 | UInt64(u16(offset + 4)) << 32
        guard child >= 2, child <= lastPage else {
            throw outsideFile(child, "node \(index) of " + Self.describe(number, tree, isLeaf: false))
        }
        return child
    }

    private func checkLeafNode(_ index: Int, _ number: UInt64, _ tree: Tree,
                               bigValues: inout [(page: UInt64, size: Int)], named: inout [(String, DatabaseRecord)]) throws(StoreError) {
        let (offset, keySize) = try node(index, number, tree, isLeaf: true)
        var what: String { "node \(index) of " + Self.describe(number, tree, isLeaf: true) }
        let size = Int(u16(offset)) | Int(u16(offset + 2)) << 16
        let flags = u16(offset + 4)
        let data = offset + Self.nodeHeaderSize + keySize
        switch flags {
        case 0:
            guard data + size <= pageSize else { throw damaged("\(what) has \(size) bytes of data past the end of the page") }
        case Self.bigData:
            guard data + 8 <= pageSize else { throw damaged("\(what) has its overflow page number past the end of the page") }
            let first = u64(data)
            guard first >= 2, first <= lastPage else { throw outsideFile(first, what + "'s overflow page") }
            bigValues.append((first, size))
        case Self.subDatabase:
            guard case .main = tree else { throw damaged("\(what) says it holds a database, which only the main database's nodes may") }
            guard size == DatabaseRecord.size, data + size <= pageSize else {
                throw damaged("\(what) holds a database record of \(size) bytes, not \(DatabaseRecord.size)")
            }
            let name = page[(offset + Self.nodeHeaderSize)..<data]
            let record = DatabaseRecord(page, at: data)
            named.append((String(decoding: name, as: UTF8.self), record))
        default:
            throw damaged("\(what) has node flags 0x\(String(flags, radix: 16)) our databases never have (duplicate data or a sub-database)")
        }
    }

    /// A value's overflow pages: inside the file, and the first one's header agrees.
    private mutating func checkOverflow(_ first: UInt64, size: Int, _ tree: Tree) throws(StoreError) {
        figures.bigValues += 1
        var what: String { "the \(size)-byte value on overflow page \(first) (in \(tree.name))" }
        let needed = UInt64((Self.pageHeaderSize - 1 + size) / pageSize + 1)
        guard first <= lastPage - min(lastPage, needed - 1) else {
            throw damaged("\(what) needs \(needed) pages, past the last page \(lastPage)")
        }
        try read(first, count: Self.pageHeaderSize)
        guard u64(0) == first, u16(10) == Self.overflowPage else {
            throw damaged("\(what): its first page is not an overflow page (it names itself \(u64(0)), flags 0x\(String(u16(10), radix: 16)))")
        }
        let pages = UInt64(u32(12))
        guard pages >= needed, pages - 1 <= lastPage - first else {
            throw damaged("\(what): its first page says it spans \(pages) pages (the value needs \(needed), the file ends at page \(lastPage))")
        }
    }

    // MARK: helpers

    private func outsideFile(_ number: UInt64, _ what: String) -> StoreError {
        damaged("\(what) is page \(number), not one of the file's pages 2…\(lastPage)")
    }

    private static func describe(_ number: UInt64, _ tree: Tree, isLeaf: Bool) -> String {
        "page \(number) (a \(isLeaf ? "leaf" : "branch") of \(tree.name))"
    }

    private func u16(_ at: Int) -> UInt16 { page.loadUnaligned(fromByteOffset: at, as: UInt16.self) }
    private func u32(_ at: Int) -> UInt32 { page.loadUnaligned(fromByteOffset: at, as: UInt32.self) }
    private func u64(_ at: Int) -> UInt64 { page.loadUnaligned(fromByteOffset: at, as: UInt64.self) }

    private func damaged(_ what: String) -> StoreError {
        StoreFileMeta.damaged(path, "is damaged: \(what)")
    }
}
