import CairnData
import CairnTestSupport
import Testing

@Suite struct ZstdTests {
    /// A hand-made frame with no content size: a 1 KiB window descriptor and `blocks` RLE
    /// blocks of 1024 copies of 0x41; a few bytes that expand without limit.
    static func rleBomb(blocks: Int, windowDescriptor: UInt8 = 0x00) -> [UInt8] {
        var frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x00, windowDescriptor]
        for i in 0..<blocks {
            let last: UInt32 = i == blocks - 1 ? 1 : 0
            let header = last | (1 << 1) | (1024 << 3)  // RLE block of 1024 bytes
            frame += [UInt8(header & 0xFF), UInt8((header >> 8) & 0xFF), UInt8(header >> 16), 0x41]
        }
        return frame
    }

    /// Rewrites the frame content size of a frame made by `Zstd.compress`.
    static func withDeclaredSize(_ frame: [UInt8], _ size: UInt64) -> [UInt8]? {
        let descriptor = frame[4]
        let singleSegment = descriptor & 0x20 != 0
        let dictionaryBytes = [0, 1, 2, 4][Int(descriptor & 3)]
        var position = 5 + (singleSegment ? 0 : 1) + dictionaryBytes
        var value = size
        switch descriptor >> 6 {
        case 1:
            guard size >= 256, size < 65536 + 256 else { return nil }
            value = size - 256
            var copy = frame
            for i in 0..<2 { copy[position] = UInt8((value >> (8 * UInt64(i))) & 0xFF); position += 1 }
            return copy
        case 2:
            guard size <= UInt64(UInt32.max) else { return nil }
            var copy = frame
            for i in 0..<4 { copy[position] = UInt8((value >> (8 * UInt64(i))) & 0xFF); position += 1 }
            return copy
        case 3:
            var copy = frame
            for i in 0..<8 { copy[position] = UInt8((value >> (8 * UInt64(i))) & 0xFF); position += 1 }
            return copy
        default:
            return nil
        }
    }

    // MARK: round trips

    @Test(arguments: [0, 1, 2, 100, 4096, 65_535, 65_536, 1 << 20, (1 << 20) + 7])
    func roundTrip(size: Int) throws {
        var rng = SeededRandom(seed: UInt64(size))
        let random = rng.bytes(size)
        let text = (0..<size).map { UInt8(truncatingIfNeeded: $0 % 17 + 65) }
        for input in [random, text] {
            let frame = Zstd.compress(input)
            #expect(try Zstd.decompress(frame, maxSize: size) == input)
            #expect(try Zstd.decompress(frame, maxSize: size + 1000) == input)
            if size > 0 {
                let e = #expect(throws: CompressionError.self) { try Zstd.decompress(frame, maxSize: size - 1) }
                #expect(e?.code == .tooLarge, "\(String(describing: e))")
            }
        }
        #expect(Zstd.compress(text).count < max(64, size / 4))
    }

    @Test func unlimitedMaxSize() throws {
        let input = [UInt8](repeating: 3, count: 1000)
        #expect(try Zstd.decompress(Zstd.compress(input), maxSize: Int.max) == input)
        #expect(try Zstd.decompress(Self.rleBomb(blocks: 3), maxSize: Int.max).count == 3072)
    }

    @Test func levels() throws {
        let input = (0..<100_000).map { UInt8(truncatingIfNeeded: ($0 * 7) % 251) }
        for level in [Zstd.levelRange.lowerBound, -1, 1, 3, 9, 19] {
            let frame = input.withUnsafeBytes { Zstd.compress($0, level: level) }
            #expect(try Zstd.decompress(frame, maxSize: input.count) == input)
        }
    }

    // MARK: hostile input

    @Test func emptyAndGarbageAreErrors() {
        var rng = SeededRandom(seed: 9)
        for input in [[], [0x28], [0x28, 0xB5, 0x2F, 0xFD], rng.bytes(100), rng.bytes(100_000)] as [[UInt8]] {
            let e = #expect(throws: CompressionError.self) { try Zstd.decompress(input, maxSize: 1 << 20) }
            // None of them is a frame zstd can read (a bare magic number has no header).
            #expect(e?.code == .corrupt, "\(input.count) bytes: \(String(describing: e))")
        }
    }

    @Test func everyTruncationIsAnError() {
        var rng = SeededRandom(seed: 10)
        let input = rng.bytes(3000) + [UInt8](repeating: 7, count: 3000)
        let frame = Zstd.compress(input)
        for length in 0..<frame.count {
            let e = #expect(throws: CompressionError.self) { try Zstd.decompress(Array(frame[..<length]), maxSize: 10_000) }
            #expect(e?.code == .truncated || e?.code == .corrupt, "cut at \(length): \(String(describing: e))")
        }
    }

    @Test func trailingBytesAreAnError() {
        let frame = Zstd.compress([UInt8](repeating: 1, count: 1000))
        do {
            _ = try Zstd.decompress(frame + [0], maxSize: 10_000)
            Issue.record("accepted trailing data")
        } catch {
            #expect(error.code == .trailingData || error.code == .corrupt)
        }
        let twice = #expect(throws: CompressionError.self) { try Zstd.decompress(frame + frame, maxSize: 10_000) }
        #expect(twice?.code == .trailingData, "\(String(describing: twice))")
    }

    @Test func flippedBytesNeverTrapOrOverflow() {
        var rng = SeededRandom(seed: 11)
        let input = rng.bytes(2000) + (0..<6000).map { UInt8(truncatingIfNeeded: $0 % 13) }
        let frame = Zstd.compress(input)
        for _ in 0..<2000 {
            var damaged = frame
            for _ in 0..<rng.int(in: 1...3) {
                damaged[rng.int(in: 0...(frame.count - 1))] ^= UInt8(rng.int(in: 1...255))
            }
            // Without a checksum some flips decode to other bytes; that is for the AEAD
            // around the chunk to catch. What matters here: an error or bounded output.
            if let output = try? Zstd.decompress(damaged, maxSize: input.count) {
                #expect(output.count <= input.count)
            }
        }
    }

    @Test func lyingContentSizes() throws {
        let input = (0..<5000).map { UInt8(truncatingIfNeeded: $0 % 31) }
        let frame = Zstd.compress(input)
        for declared: UInt64 in [4999, 4000, 300, 5001, 6000, 60_000] {
            guard let lie = Self.withDeclaredSize(frame, declared) else { continue }
            #expect(throws: CompressionError.self) { try Zstd.decompress(lie, maxSize: 100_000) }
        }
        if let huge = Self.withDeclaredSize(frame, 65_000) {
            do {
                _ = try Zstd.decompress(huge, maxSize: 10_000)
                Issue.record("accepted a size above maxSize")
            } catch {
                #expect(error.code == .tooLarge)
            }
        }
        // A header declaring 2^62 bytes is refused before anything is allocated.
        let enormous: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0xE0] + [0, 0, 0, 0, 0, 0, 0, 0x40] + [0x01, 0x00, 0x00]
        do {
            _ = try Zstd.decompress(enormous, maxSize: 1 << 20)
            Issue.record("accepted a 2^62-byte frame")
        } catch {
            #expect(error.code == .tooLarge)
        }
    }

    @Test func decompressionBombStopsAtMaxSize() throws {
        let bomb = Self.rleBomb(blocks: 4_000)  // 16 KB that expand to 4000 KiB
        #expect(try Zstd.decompress(bomb, maxSize: 4_000 * 1024).count == 4_000 * 1024)
        do {
            _ = try Zstd.decompress(bomb, maxSize: 1 << 16)
            Issue.record("decoded beyond maxSize")
        } catch {
            #expect(error.code == .tooLarge)
        }
    }

    @Test func hugeWindowIsRefused() {
        // Window descriptor 0xA8: exponent 21 → a 2^31-byte window; far above maxSize.
        let frame = Self.rleBomb(blocks: 1, windowDescriptor: 0xA8)
        let e = #expect(throws: CompressionError.self) { try Zstd.decompress(frame, maxSize: 4096) }
        #expect(e?.code == .corrupt || e?.code == .tooLarge, "\(String(describing: e))")
    }
}
