internal import CZstd

/// zstd compression of chunks before encryption.
///
/// Decompression treats its input as hostile: chunks come back from peers and from disk,
/// so a corrupt, truncated or lying frame must end in a `CompressionError`, never a trap,
/// and never in more memory than the caller allowed.
public enum Zstd {
    /// Compression levels zstd accepts (negative levels trade ratio for speed).
    public static var levelRange: ClosedRange<Int32> { ZSTD_minCLevel()...ZSTD_maxCLevel() }

    /// One zstd frame holding `src`, with its content size recorded in the header (which
    /// lets `decompress` size its output exactly and reject oversized content up front).
    public static func compress(_ src: UnsafeRawBufferPointer, level: Int32 = 3) -> [UInt8] {
        precondition(levelRange.contains(level), "zstd level \(level) outside \(levelRange)")
        let bound = ZSTD_compressBound(src.count)
        precondition(ZSTD_isError(bound) == 0, "zstd cannot compress \(src.count) bytes")
        return [UInt8](unsafeUninitializedCapacity: bound) { out, initialized in
            let written = ZSTD_compress(out.baseAddress, bound, src.baseAddress, src.count, level)
            precondition(ZSTD_isError(written) == 0,
                         "ZSTD_compress of \(src.count) bytes: \(String(cString: ZSTD_getErrorName(written)))")
            initialized = written
        }
    }

    public static func compress(_ src: [UInt8], level: Int32 = 3) -> [UInt8] {
        src.withUnsafeBytes { compress($0, level: level) }
    }

    /// The content of the single zstd frame `src`, at most `maxSize` bytes.
    ///
    /// Memory stays bounded by `maxSize` (plus one byte to detect overflow and zstd's own
    /// window, itself limited to the power of two at or above `maxSize`) whatever the frame
    /// header claims: a declared size above `maxSize` is rejected before decoding, and
    /// output is cut off at `maxSize + 1` bytes in any case.
    public static func decompress(_ src: UnsafeRawBufferPointer, maxSize: Int) throws(CompressionError) -> [UInt8] {
        precondition(maxSize >= 0, "maxSize \(maxSize)")
        let declared = ZSTD_getFrameContentSize(src.baseAddress, src.count)
        switch declared {
        case contentSizeError:
            throw CompressionError(.corrupt, "\(src.count) bytes are not a zstd frame; the data is damaged or was never compressed")
        case contentSizeUnknown:
            break
        default:
            if declared > UInt64(maxSize) {
                throw CompressionError(.tooLarge, "the frame declares \(declared) bytes, more than the \(maxSize) allowed; "
                    + "the data is damaged or was not written by Cairn")
            }
        }

        guard let dctx = ZSTD_createDCtx() else {
            preconditionFailure("ZSTD_createDCtx: out of memory")
        }
        defer { ZSTD_freeDCtx(dctx) }
        let windowLog = Int32(max(10, min(31, Int.bitWidth - max(maxSize - 1, 1).leadingZeroBitCount)))
        let rc = ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, windowLog)
        precondition(ZSTD_isError(rc) == 0, "ZSTD_d_windowLogMax \(windowLog)")

        // One byte beyond maxSize tells "exactly maxSize" from "more than maxSize".
        let limit = maxSize < Int.max ? maxSize + 1 : Int.max
        var capacity = declared == contentSizeUnknown
            ? min(limit, max(1 << 16, src.count.multipliedReportingOverflow(by: 4).overflow ? Int.max : src.count * 4))
            : min(limit, Int(declared) + 1)
        var out = [UInt8](repeating: 0, count: capacity)
        var produced = 0
        var consumed = 0
        var stalls = 0
        while true {
            if produced == capacity {
                guard capacity < limit else {
                    throw CompressionError(.tooLarge, "the content is larger than the \(maxSize) bytes allowed; "
                        + "the data is damaged or was not written by Cairn")
                }
                capacity = min(limit, capacity * 2)
                out.append(contentsOf: repeatElement(0, count: capacity - out.count))
            }
            let (ret, newProduced, newConsumed) = out.withUnsafeMutableBytes { o in
                var output = ZSTD_outBuffer(dst: o.baseAddress, size: capacity, pos: produced)
                var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: consumed)
                let ret = ZSTD_decompressStream(dctx, &output, &input)
                return (ret, output.pos, input.pos)
            }
            if ZSTD_isError(ret) != 0 {
                throw CompressionError(.corrupt, "zstd rejects the frame (\(String(cString: ZSTD_getErrorName(ret)))) "
                    + "after \(newConsumed) of \(src.count) bytes; the data is damaged")
            }
            let progressed = newProduced != produced || newConsumed != consumed
            produced = newProduced
            consumed = newConsumed
            if ret == 0 { break }  // frame complete and flushed
            if produced < capacity && consumed == src.count {
                throw CompressionError(.truncated, "the frame ends early, after \(src.count) bytes and \(produced) decoded; "
                    + "the data was cut short in storage or transit")
            }
            // zstd always progresses when it has input and room; guard the loop anyway.
            stalls = progressed ? 0 : stalls + 1
            if stalls > 2 {
                throw CompressionError(.corrupt, "zstd makes no progress at byte \(consumed); the data is damaged")
            }
        }
        if consumed != src.count {
            throw CompressionError(.trailingData, "\(src.count - consumed) bytes follow the zstd frame; "
                + "the data is damaged or holds more than one frame")
        }
        if produced > maxSize {
            throw CompressionError(.tooLarge, "the content is larger than the \(maxSize) bytes allowed")
        }
        out.removeLast(out.count - produced)
        return out
    }

    public static func decompress(_ src: [UInt8], maxSize: Int) throws(CompressionError) -> [UInt8] {
        try src.withUnsafeBytes { raw in Result { () throws(CompressionError) in try decompress(raw, maxSize: maxSize) } }
            .get()
    }

    /// `ZSTD_CONTENTSIZE_UNKNOWN` and `ZSTD_CONTENTSIZE_ERROR`, which Swift cannot import
    /// because they are macro expressions.
    private static let contentSizeUnknown = UInt64.max
    private static let contentSizeError = UInt64.max - 1
}
