import CairnData
import Foundation
import CairnTestSupport
import Testing

@Suite struct FastCDCTests {
    static func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("cairn-chunk-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        return path
    }

    // MARK: bounds

    @Test func chunkSizesStayWithinBoundsForRandomParameters() throws {
        var rng = SeededRandom(seed: 42)
        for _ in 0..<200 {
            let normalization = rng.int(in: 0...3)
            let bits = rng.int(in: max(6, 5 + normalization)...min(16, 25 - normalization))
            let avg = 1 << bits
            let min = rng.int(in: 32...(avg / 2)) * 2
            let max = rng.int(in: avg...(avg * 8))
            let parameters = try ChunkerParameters(
                minSize: min, avgSize: avg, maxSize: max, normalization: normalization, gearSeed: rng.next())
            let chunker = FastCDC(parameters)
            let input = rng.bytes(rng.int(in: 0...(avg * 16)))
            let lengths = input.withUnsafeBytes { chunker.chunkLengths($0) }
            #expect(lengths.reduce(0, +) == input.count)
            for length in lengths.dropLast() {
                #expect((min...max).contains(length), "\(parameters): \(length)")
            }
            if let last = lengths.last {
                #expect((1...max).contains(last))
            }
        }
    }

    @Test func shortInputIsOneChunk() throws {
        let parameters = try ChunkerParameters(minSize: 128, avgSize: 256, maxSize: 1024)
        let chunker = FastCDC(parameters)
        for count in [1, 2, 127, 128] {
            let input = [UInt8](repeating: 7, count: count)
            #expect(input.withUnsafeBytes { chunker.nextChunkLength($0) } == count)
        }
        #expect([UInt8]().withUnsafeBytes { chunker.chunkLengths($0) } == [])
    }

    @Test func anEditMovesOnlyNearbyBoundaries() throws {
        let parameters = try ChunkerParameters(minSize: 1024, avgSize: 4096, maxSize: 16384)
        let chunker = FastCDC(parameters)
        var rng = SeededRandom(seed: 7)
        let original = rng.bytes(1 << 20)
        var edited = original
        edited.insert(contentsOf: [1, 2, 3], at: 1000)
        func ends(_ bytes: [UInt8]) -> Set<Int> {
            var end = 0
            return Set(bytes.withUnsafeBytes { chunker.chunkLengths($0) }.map { end += $0; return end })
        }
        let shifted = Set(ends(original).map { $0 + 3 })
        let common = shifted.intersection(ends(edited))
        #expect(common.count >= ends(original).count - 3)
    }

    // MARK: parameters

    @Test func defaultParameters() {
        let p = ChunkerParameters.default
        #expect(p.minSize == 256 * 1024 && p.avgSize == 1 << 20 && p.maxSize == 4 << 20 && p.normalization == 1)
    }

    @Test(arguments: [
        (0, 1024, 4096, 1), (32, 1024, 4096, 1), (2048, 1024, 4096, 1), (256, 1024, 512, 1),
        (257, 1024, 4096, 1), (256, 1000, 4096, 1), (256, 1024, 4096, 4), (256, 1024, 4096, -1),
        (64, 64, 256, 2), (1 << 20, 1 << 25, 1 << 26, 1), (256, 1024, (1 << 30) + 1, 1),
    ])
    func invalidParametersAreRejected(min: Int, avg: Int, max: Int, normalization: Int) {
        #expect(throws: ChunkerError.self) {
            try ChunkerParameters(minSize: min, avgSize: avg, maxSize: max, normalization: normalization)
        }
        do {
            _ = try ChunkerParameters(minSize: min, avgSize: avg, maxSize: max, normalization: normalization)
        } catch {
            #expect(error.code == .invalidParameters)
            #expect(!error.message.isEmpty)
        }
    }

    @Test func edgeParametersAreAccepted() throws {
        _ = try ChunkerParameters(minSize: 64, avgSize: 64, maxSize: 64, normalization: 1)
        _ = try ChunkerParameters(minSize: 64, avgSize: 1 << 25, maxSize: 1 << 30, normalization: 0)
        _ = try ChunkerParameters(minSize: 1 << 20, avgSize: 1 << 22, maxSize: 1 << 22, normalization: 3)
        let fixed = FastCDC(try ChunkerParameters(minSize: 64, avgSize: 64, maxSize: 64, normalization: 1))
        let lengths = [UInt8](repeating: 1, count: 1000).withUnsafeBytes { fixed.chunkLengths($0) }
        #expect(lengths == Array(repeating: 64, count: 15) + [40])
    }

    // MARK: files

    @Test func fileChunkerMatchesInMemoryChunking() throws {
        var rng = SeededRandom(seed: 1)
        let parameters = try ChunkerParameters(minSize: 2048, avgSize: 8192, maxSize: 32768)
        for size in [1, 2047, 2048, 2049, 32768, 65536, 65537, 1 << 20, (1 << 20) + 12345] {
            let input = rng.bytes(size)
            let path = try Self.temporaryFile(input)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let expected = input.withUnsafeBytes { FastCDC(parameters).chunkLengths($0) }

            var copies = try FileChunker(path: path, parameters: parameters)
            var chunks: [Chunk] = []
            while let chunk = try copies.next() { chunks.append(chunk) }
            #expect(chunks.map(\.bytes.count) == expected)
            #expect(chunks.flatMap(\.bytes) == input)
            var offset: UInt64 = 0
            for chunk in chunks {
                #expect(chunk.offset == offset)
                offset += UInt64(chunk.bytes.count)
            }

            var views = try FileChunker(path: path, parameters: parameters)
            var seen: [Int] = []
            var rebuilt: [UInt8] = []
            while let length = try views.nextChunk({ offset, bytes in
                #expect(offset == UInt64(rebuilt.count))
                rebuilt.append(contentsOf: bytes)
                return bytes.count
            }) {
                seen.append(length)
            }
            #expect(seen == expected)
            #expect(rebuilt == input)
        }
    }

    @Test func fileThatGrowsAfterOpenIsChunkedWhole() throws {
        // The read buffer is sized for the file at open; bytes appended before they are
        // read must still all arrive, cut as the final file would be.
        var rng = SeededRandom(seed: 9)
        let parameters = try ChunkerParameters(minSize: 2048, avgSize: 8192, maxSize: 32768)
        for (first, added) in [(0, 50_000), (100, 100_000), (40_000, 300_000), (70_000, 1)] {
            let head = rng.bytes(first), tail = rng.bytes(added)
            let path = try Self.temporaryFile(head)
            defer { try? FileManager.default.removeItem(atPath: path) }
            var chunker = try FileChunker(path: path, parameters: parameters)
            let handle = try #require(FileHandle(forWritingAtPath: path))
            handle.seekToEndOfFile()
            handle.write(Data(tail))
            try handle.close()
            var chunks: [Chunk] = []
            while let chunk = try chunker.next() { chunks.append(chunk) }
            let whole = head + tail
            let same = chunks.flatMap(\.bytes) == whole  // not printed: hundreds of kilobytes
            #expect(same, "\(first) + \(added) bytes: the chunks do not rebuild the file")
            #expect(chunks.map(\.bytes.count) == whole.withUnsafeBytes { FastCDC(parameters).chunkLengths($0) })
        }
    }

    @Test func failingBodyDoesNotConsumeTheChunk() throws {
        struct Stop: Error {}
        var rng = SeededRandom(seed: 3)
        let input = rng.bytes(100_000)
        let path = try Self.temporaryFile(input)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var chunker = try FileChunker(path: path, parameters: try ChunkerParameters(minSize: 1024, avgSize: 4096, maxSize: 16384))
        #expect(throws: Stop.self) { try chunker.nextChunk { _, _ in throw Stop() } }
        let first = try chunker.nextChunk { offset, _ in offset }
        #expect(first == 0)
    }

    @Test func emptyFileHasNoChunks() throws {
        let path = try Self.temporaryFile([])
        defer { try? FileManager.default.removeItem(atPath: path) }
        var chunker = try FileChunker(path: path, parameters: .default)
        #expect(try chunker.next() == nil)
        #expect(try chunker.next() == nil)
    }

    @Test func missingFileAndDirectoryReportTheirPath() throws {
        let missing = "/nonexistent/cairn-\(UUID().uuidString)"
        do {
            _ = try FileChunker(path: missing, parameters: .default)
            Issue.record("opened a missing file")
        } catch {
            #expect(error.code == .openFailed)
            #expect(error.path == missing)
            #expect(error.description.contains(missing))
        }
        var directory = try FileChunker(path: FileManager.default.temporaryDirectory.path, parameters: .default)
        do {
            _ = try directory.next()
            Issue.record("read a directory")
        } catch {
            #expect(error.code == .readFailed)
            #expect(error.errno == EISDIR)
        }
    }
}
