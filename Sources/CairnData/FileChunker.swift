#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// One chunk of a file: where it starts and its bytes.
public struct Chunk: Sendable, Equatable {
    public let offset: UInt64
    public let bytes: [UInt8]

    public init(offset: UInt64, bytes: [UInt8]) {
        self.offset = offset
        self.bytes = bytes
    }
}

/// Streams one file through FastCDC with a bounded buffer (two maximum-size chunks), so
/// files of any size are chunked in constant memory and each byte is read once.
///
/// Noncopyable because it owns a file descriptor, which it closes in `deinit`.
public struct FileChunker: ~Copyable, Sendable {
    public let path: String
    private let chunker: FastCDC
    private let fd: Int32
    /// Holds file bytes `[start, end)` not yet handed out; capacity 2 × maxSize.
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var atEOF = false
    /// File offset of `buffer[start]`.
    private var offset: UInt64 = 0

    public init(path: String, parameters: ChunkerParameters) throws(ChunkerError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw ChunkerError.openFailed(path: path, errno: e)
        }
        self.path = path
        self.fd = fd
        self.chunker = FastCDC(parameters)
        // Sized for the file as it is now (most files are far smaller than two maximum
        // chunks), and not zero-filled: only bytes read from the file are ever looked at.
        // A file that grows while it is read gets the full size at the next refill.
        var info = stat()
        let known = fstat(fd, &info) == 0 && info.st_size >= 0 ? Int(clamping: info.st_size) : Int.max
        self.buffer = Self.uninitializedBuffer(min(2 * parameters.maxSize, max(known, 0) &+ 1))
    }

    private static func uninitializedBuffer(_ count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    deinit {
        _ = close(fd)
    }

    /// The next chunk as a copy, or nil at the end of the file.
    public mutating func next() throws(ChunkerError) -> Chunk? {
        guard let length = try prepareNext() else { return nil }
        let chunk = Chunk(offset: offset, bytes: Array(buffer[start..<(start + length)]))
        consume(length)
        return chunk
    }

    /// Calls `body` with the next chunk's file offset and bytes, without copying them, and
    /// returns its result; nil at the end of the file. The bytes are valid only inside
    /// `body`. If `body` throws, the chunk is not consumed: the next call offers it again.
    public mutating func nextChunk<R>(_ body: (UInt64, UnsafeRawBufferPointer) throws -> R) throws -> R? {
        guard let length = try prepareNext() else { return nil }
        let start = start, offset = offset
        let result = try buffer.withUnsafeBytes { all in
            try body(offset, UnsafeRawBufferPointer(rebasing: all[start..<(start + length)]))
        }
        consume(length)
        return result
    }

    /// Makes sure the buffer holds min(rest of file, maxSize) bytes and returns the length
    /// of the chunk at `start`, or nil at the end of the file.
    private mutating func prepareNext() throws(ChunkerError) -> Int? {
        let maxSize = chunker.parameters.maxSize
        if !atEOF && end - start < maxSize {
            try refill()
        }
        guard end > start else { return nil }
        let window = min(end - start, maxSize)
        let start = start
        let length = buffer.withUnsafeBytes { all in
            chunker.nextChunkLength(UnsafeRawBufferPointer(rebasing: all[start..<(start + window)]))
        }
        precondition(length > 0 && length <= window, "chunk length \(length) outside 1...\(window) in \(path)")
        return length
    }

    private mutating func consume(_ length: Int) {
        start += length
        offset += UInt64(length)
    }

    /// Moves the unread bytes to the front and reads until the buffer is full or the file
    /// ends. Compaction copies fewer than maxSize bytes and happens about once per maxSize
    /// bytes consumed, so it costs at most one extra pass of memcpy over the data.
    private mutating func refill() throws(ChunkerError) {
        try fill()
        if !atEOF && buffer.count < 2 * chunker.parameters.maxSize {
            // The file has grown since it was opened and filled the buffer sized for it:
            // take the full size, keeping the bytes not yet handed out, and read on.
            var grown = Self.uninitializedBuffer(2 * chunker.parameters.maxSize)
            let (start, end) = (start, end)
            grown.withUnsafeMutableBytes { g in
                buffer.withUnsafeBytes { b in
                    g.baseAddress!.copyMemory(from: b.baseAddress! + start, byteCount: end - start)
                }
            }
            buffer = grown
            self.end = end - start
            self.start = 0
            try fill()
        }
    }

    private mutating func fill() throws(ChunkerError) {
        let fd = fd, path = path
        let (start, end) = (start, end)
        let result: (filled: Int, eof: Bool, errno: Int32?) = buffer.withUnsafeMutableBytes { all in
            let base = all.baseAddress!
            if start > 0 && end > start {
                base.copyMemory(from: base + start, byteCount: end - start)
            }
            var filled = end - start
            while filled < all.count {
                let n = read(fd, base + filled, all.count - filled)
                if n > 0 {
                    filled += n
                } else if n == 0 {
                    return (filled, true, nil)
                } else {
                    let e = errno
                    if e == EINTR { continue }
                    return (filled, false, e)
                }
            }
            return (filled, false, nil)
        }
        self.start = 0
        self.end = result.filled
        if let e = result.errno {
            throw ChunkerError.readFailed(path: path, offset: offset + UInt64(result.filled), errno: e)
        }
        atEOF = result.eof
    }
}
