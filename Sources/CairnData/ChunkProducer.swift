#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif
import Foundation

/// Reads and chunks the files of a backup on its own thread, so reading and cutting
/// overlap with hashing, sealing and erasure coding. Hands over batches of about
/// `Limits.batchBytes` through a queue of at most `depth` batches, which bounds memory.
///
/// Files are read straight into the batch's buffer and cut there (FastCDC over the same
/// windows as `FileChunker`, so the cut points are the same): a chunk's bytes are not
/// copied between `read(2)` and the hasher. Only the look-ahead after a batch's last cut
/// (less than one maximum chunk plus one read) moves to the next batch.
final class ChunkProducer: @unchecked Sendable {
    enum Event {
        /// A chunk of file `entry`: bytes `range` of the batch's data.
        case chunk(entry: Int, range: Range<Int>)
        case fileDone(entry: Int, bytesRead: UInt64)
        case fileFailed(entry: Int, reason: String)
    }

    /// The bytes of a batch: one allocation, written by the reader thread until the batch
    /// is handed over and only read after that.
    final class Storage: @unchecked Sendable {
        let memory: UnsafeMutableRawBufferPointer

        init(capacity: Int) { memory = .allocate(byteCount: capacity, alignment: 16) }
        deinit { memory.deallocate() }
    }

    struct Batch {
        var events: [Event] = []
        let storage: Storage
        /// Bytes of chunks, from the start of `storage`.
        var bytes = 0

        init(storage: Storage) { self.storage = storage }

        /// The chunks' bytes, valid inside `body` (which keeps the storage alive).
        func withData<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
            withExtendedLifetime(storage) { body(UnsafeRawBufferPointer(rebasing: storage.memory[..<bytes])) }
        }
    }

    /// A file to read: tree entry `entry`, at `relative` below the backup root `root`
    /// (an absolute path; `relative` is empty when the root is the file itself).
    struct Source {
        var entry: Int
        var root: String
        var relative: [UInt8]

        var shown: String { relative.isEmpty ? root : root + "/" + NameBytes.display(relative) }
    }

    private let files: [Source]
    private let parameters: ChunkerParameters
    private let depth: Int
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var ready: [Batch] = []
    /// Storage the consumer is done with, for the reader to fill again: a fresh
    /// allocation per batch would fault in fresh pages every time.
    private var spare: [Storage] = []
    private var finished = false
    private var cancelled = false

    init(files: [Source], parameters: ChunkerParameters, depth: Int = 1) {
        precondition(depth >= 1, "producer depth \(depth)")
        self.files = files
        self.parameters = parameters
        self.depth = depth
    }

    /// Files named by absolute paths (each its own root).
    convenience init(files: [(entry: Int, path: String)], parameters: ChunkerParameters, depth: Int = 1) {
        self.init(files: files.map { Source(entry: $0.entry, root: $0.path, relative: []) }, parameters: parameters, depth: depth)
    }

    func start() {
        let thread = Thread { [self] in produce() }
        thread.name = "cairn.chunk-reader"
        thread.start()
    }

    /// The next batch, waiting for it; nil once every file has been read.
    func next() -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        while ready.isEmpty && !finished { condition.wait() }
        if ready.isEmpty { return nil }
        let b = ready.removeFirst()
        condition.broadcast()
        return b
    }

    /// Gives a batch's storage back once nothing reads its data any more.
    func recycle(_ batch: Batch) {
        condition.lock()
        if spare.count < depth + 1 { spare.append(batch.storage) }
        condition.unlock()
    }

    private func storage(capacity: Int) -> Storage {
        condition.lock()
        defer { condition.unlock() }
        return spare.popLast() ?? Storage(capacity: capacity)
    }

    /// Stops the reader after its current chunk (a failed backup must not keep reading).
    func cancel() {
        condition.lock()
        cancelled = true
        ready.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    private func hand(_ batch: Batch) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while ready.count >= depth && !cancelled { condition.wait() }
        if cancelled { return false }
        ready.append(batch)
        condition.broadcast()
        return true
    }

    private func produce() {
        let maxSize = parameters.maxSize
        let readSize = 1 << 20
        // Before a read, the batch holds under batchBytes of chunks (it is handed over
        // once it reaches that) and under maxSize of look-ahead, so one more read fits.
        let capacity = Limits.batchBytes + maxSize + readSize
        let cdc = FastCDC(parameters)
        var batch = Batch(storage: storage(capacity: capacity))
        defer {
            condition.lock()
            if !cancelled, !batch.events.isEmpty { ready.append(batch) }
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        var opener = SourceOpener()
        for source in files {
            let entry = source.entry
            let path = source.shown
            // O_NONBLOCK: a file replaced by a FIFO since the walk must not hang the
            // backup in open(2); it is not a regular file any more and is skipped.
            let fd = opener.open(source)
            guard fd >= 0 else {
                batch.events.append(.fileFailed(entry: entry, reason: ChunkerError.openFailed(path: path, errno: errno).message))
                continue
            }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                batch.events.append(.fileFailed(entry: entry, reason: "\(path) is no longer a regular file"))
                continue
            }
            // Bytes [batch.bytes, filled) of the storage are read and not yet cut.
            var filled = batch.bytes
            var total: UInt64 = 0
            var atEOF = false
            var failure: ChunkerError?
            while true {
                while !atEOF && filled - batch.bytes < maxSize {
                    let n = read(fd, batch.storage.memory.baseAddress! + filled, readSize)
                    if n > 0 {
                        filled += n
                    } else if n == 0 {
                        atEOF = true
                    } else if errno != EINTR {
                        failure = ChunkerError.readFailed(path: path, offset: total + UInt64(filled - batch.bytes), errno: errno)
                        break
                    }
                }
                if failure != nil || filled == batch.bytes { break }
                let window = min(filled - batch.bytes, maxSize)
                let start = batch.bytes
                let length = cdc.nextChunkLength(UnsafeRawBufferPointer(rebasing: batch.storage.memory[start..<(start + window)]))
                precondition(length > 0 && length <= window, "chunk length \(length) outside 1...\(window) in \(path)")
                batch.events.append(.chunk(entry: entry, range: start..<(start + length)))
                batch.bytes += length
                total += UInt64(length)
                if batch.bytes >= Limits.batchBytes {
                    let next = Batch(storage: storage(capacity: capacity))
                    let lookAhead = filled - batch.bytes
                    next.storage.memory.baseAddress!.copyMemory(
                        from: batch.storage.memory.baseAddress! + batch.bytes, byteCount: lookAhead)
                    guard hand(batch) else { return }
                    batch = next
                    filled = lookAhead
                }
            }
            if let failure {
                batch.events.append(.fileFailed(entry: entry, reason: failure.message))
            } else {
                batch.events.append(.fileDone(entry: entry, bytesRead: total))
            }
        }
    }
}

/// Opens the files of a backup in walk order, each relative to its folder: the folders of
/// the current path stay open (`FolderChain`), so a file costs one `openat` and a path
/// may be longer than `PATH_MAX`. Below the root nothing is followed: a folder or file
/// swapped for a symlink since the walk is not read through it.
struct SourceOpener {
    private var root: String?
    private var chain: FolderChain?

    /// An open descriptor of `source` (read-only, non-blocking), or -1 with `errno` set.
    mutating func open(_ source: ChunkProducer.Source) -> Int32 {
        let flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW
        guard !source.relative.isEmpty else { return Glibc.open(source.root, flags) }
        if root != source.root || chain == nil {
            chain = nil
            root = source.root
            let base = Glibc.open(source.root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard base >= 0 else {
                root = nil
                return -1
            }
            chain = FolderChain(base: base)
        }
        guard let chain else { return -1 }
        let components = NameBytes.components(source.relative)
        let folders = components.dropLast()
        chain.truncate(to: chain.commonDepth(folders))
        do {
            for name in folders.dropFirst(chain.depth) { try chain.enter(name) }
            let folder = try chain.top()
            return NameBytes.withCString(components[components.count - 1]) { openat(folder, $0, flags) }
        } catch {
            errno = error.errno
            return -1
        }
    }
}
