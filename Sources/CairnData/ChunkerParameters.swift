/// The sizes that shape FastCDC-2020 chunking, checked once so the chunker itself never has
/// to doubt them.
///
/// Valid parameters (each rule says why):
/// - `minSizeLowerBound` (64) ≤ `minSize` ≤ `avgSize` ≤ `maxSize` ≤ `maxSizeUpperBound` (1 GiB):
///   below 64 bytes a chunk costs more in metadata than it saves; above 1 GiB a chunk no
///   longer fits a pack, and the streaming chunker holds two of them in memory.
/// - `minSize` is even: FastCDC-2020 scans two bytes per step starting at `minSize`, so an
///   odd minimum could yield a chunk one byte shorter than asked.
/// - `avgSize` is a power of two: the cut mask is chosen by `log2(avgSize)`; other values
///   would silently mean the next power down (pyfastcdc) or the nearest one (fastcdc-rs).
/// - `normalization` is 0...3 and both masks exist and are non-empty:
///   `5 ≤ log2(avgSize) − normalization` and `log2(avgSize) + normalization ≤ 25`
///   (the reference MASKS table has 26 entries, the first five empty). So `avgSize` is
///   between 2^6 and 2^25; with normalization 1, between 2^6 and 2^24.
/// - `gearSeed` is any value: it is XORed into the gear table so that chunk boundaries,
///   and with them chunk sizes, do not reveal content to someone who knows the tables.
public struct ChunkerParameters: Sendable, Equatable, CustomStringConvertible {
    public static let minSizeLowerBound = 64
    public static let maxSizeUpperBound = 1 << 30
    public static let normalizationRange = 0...3
    /// Indexes of non-empty masks in the reference table.
    static let maskIndexRange = 5...25

    public let minSize: Int
    public let avgSize: Int
    public let maxSize: Int
    public let normalization: Int
    public let gearSeed: UInt64

    /// Cairn's default: chunks of about 1 MiB, at least 256 KiB and at most 4 MiB, which
    /// keeps the chunk index small while an edit still moves only a megabyte or so.
    public static let `default` = try! ChunkerParameters(
        minSize: 256 << 10, avgSize: 1 << 20, maxSize: 4 << 20, normalization: 1)

    public init(minSize: Int, avgSize: Int, maxSize: Int, normalization: Int = 1,
                gearSeed: UInt64 = 0) throws(ChunkerError) {
        func invalid(_ message: String) -> ChunkerError {
            ChunkerError(.invalidParameters,
                         "min \(minSize), avg \(avgSize), max \(maxSize), normalization \(normalization): \(message)")
        }
        guard minSize >= Self.minSizeLowerBound else {
            throw invalid("the minimum size must be at least \(Self.minSizeLowerBound) bytes")
        }
        guard maxSize <= Self.maxSizeUpperBound else {
            throw invalid("the maximum size must be at most \(Self.maxSizeUpperBound) bytes (1 GiB)")
        }
        guard minSize <= avgSize, avgSize <= maxSize else {
            throw invalid("sizes must satisfy min ≤ avg ≤ max")
        }
        guard minSize % 2 == 0 else {
            throw invalid("the minimum size must be even (FastCDC-2020 scans two bytes per step)")
        }
        guard avgSize.nonzeroBitCount == 1 else {
            let lower = 1 << (Int.bitWidth - 1 - avgSize.leadingZeroBitCount)
            throw invalid("the average size must be a power of two, such as \(lower) or \(lower << 1)")
        }
        guard Self.normalizationRange.contains(normalization) else {
            throw invalid("the normalization level must be 0, 1, 2 or 3")
        }
        let bits = avgSize.trailingZeroBitCount
        guard Self.maskIndexRange.contains(bits - normalization),
              Self.maskIndexRange.contains(bits + normalization) else {
            throw invalid("log2(avg) ± normalization must stay within 5...25; "
                + "use an average between \(1 << (Self.maskIndexRange.lowerBound + normalization)) "
                + "and \(1 << (Self.maskIndexRange.upperBound - normalization)) bytes or a lower normalization")
        }
        self.minSize = minSize
        self.avgSize = avgSize
        self.maxSize = maxSize
        self.normalization = normalization
        self.gearSeed = gearSeed
    }

    public var description: String {
        "min \(minSize), avg \(avgSize), max \(maxSize), normalization \(normalization)"
    }
}
