/// FastCDC-2020 content-defined chunking: cut points depend only on nearby content, so an
/// insertion early in a file moves the boundaries around it and not the ones after.
///
/// This reproduces the reference behaviour (pyfastcdc 0.3.1 / fastcdc-rs v2020) exactly:
/// - the gear hash starts at 0 at each chunk start; the first `minSize` bytes are skipped,
///   not hashed (scanning starts at offset `minSize`, which is even);
/// - two bytes per step: `h = (h << 2) + GEAR_LS[b0]`, test against the mask shifted left
///   by one; then `h += GEAR[b1]`, test against the mask; `GEAR_LS[i] = GEAR[i] << 1`;
/// - before `avgSize` the stricter `mask_s = MASKS[log2(avg) + nc]` applies, after it the
///   looser `mask_l = MASKS[log2(avg) − nc]` (normalized chunking);
/// - a hit at position p ends the chunk before byte p; no hit gives
///   `min(remaining, maxSize)`; a trailing odd byte is never hashed;
/// - a non-zero gear seed is XORed into GEAR, and `seed << 1` into GEAR_LS.
public struct FastCDC: Sendable {
    public let parameters: ChunkerParameters
    private let gear: [UInt64]
    private let gearShifted: [UInt64]
    private let maskS: UInt64
    private let maskL: UInt64

    public init(_ parameters: ChunkerParameters) {
        self.parameters = parameters
        let seed = parameters.gearSeed
        gear = FastCDCTables.gear.map { $0 ^ seed }
        gearShifted = FastCDCTables.gear.map { ($0 << 1) ^ (seed << 1) }
        let bits = parameters.avgSize.trailingZeroBitCount
        maskS = FastCDCTables.masks[bits + parameters.normalization]
        maskL = FastCDCTables.masks[bits - parameters.normalization]
    }

    /// The length of the chunk that starts at `data[0]`.
    ///
    /// `data` should hold `min(remaining input, maxSize)` bytes (more is ignored beyond
    /// `maxSize`). The result is `data.count` when `data.count <= minSize`, and otherwise in
    /// `minSize...min(data.count, maxSize)`.
    public func nextChunkLength(_ data: UnsafeRawBufferPointer) -> Int {
        cut(data).length
    }

    /// Every chunk length of a whole buffer, in order; they sum to `data.count`.
    public func chunkLengths(_ data: UnsafeRawBufferPointer) -> [Int] {
        var lengths: [Int] = []
        lengths.reserveCapacity(data.count / parameters.avgSize + 1)
        var offset = 0
        while offset < data.count {
            let end = min(data.count, offset + parameters.maxSize)
            let length = nextChunkLength(UnsafeRawBufferPointer(rebasing: data[offset..<end]))
            precondition(length > 0 && length <= end - offset, "chunk length \(length) at \(offset)")
            lengths.append(length)
            offset += length
        }
        return lengths
    }

    /// The cut and the gear hash at the cut (the reference implementations report it too;
    /// tests compare it to catch a hash that drifts while cut points still happen to agree).
    func cut(_ data: UnsafeRawBufferPointer) -> (length: Int, hash: UInt64) {
        var remaining = data.count
        let minSize = parameters.minSize
        if remaining <= minSize { return (remaining, 0) }
        var center = parameters.avgSize
        if remaining > parameters.maxSize {
            remaining = parameters.maxSize
        } else if remaining < center {
            center = remaining
        }
        let maskS = maskS, maskL = maskL
        let maskSShifted = maskS << 1, maskLShifted = maskL << 1
        let bytes = data.baseAddress!.assumingMemoryBound(to: UInt8.self)
        return gear.withUnsafeBufferPointer { gearBuffer in
            gearShifted.withUnsafeBufferPointer { shiftedBuffer in
                let g = gearBuffer.baseAddress!, gs = shiftedBuffer.baseAddress!
                var hash: UInt64 = 0
                var pos = minSize & ~1
                let middle = center & ~1
                let end = remaining & ~1
                while pos < middle {
                    hash = (hash &<< 2) &+ gs[Int(bytes[pos])]
                    if hash & maskSShifted == 0 { return (pos, hash) }
                    hash = hash &+ g[Int(bytes[pos + 1])]
                    if hash & maskS == 0 { return (pos + 1, hash) }
                    pos += 2
                }
                while pos < end {
                    hash = (hash &<< 2) &+ gs[Int(bytes[pos])]
                    if hash & maskLShifted == 0 { return (pos, hash) }
                    hash = hash &+ g[Int(bytes[pos + 1])]
                    if hash & maskL == 0 { return (pos + 1, hash) }
                    pos += 2
                }
                return (remaining, hash)
            }
        }
    }
}
