@testable import CairnData
import Foundation
import CairnTestSupport
import Testing

/// The backup's reader cuts files inside its batch buffers; its chunks must be exactly
/// FastCDC's over each whole file, across batch boundaries and look-ahead carried over.
@Suite struct ChunkProducerTests {
    struct Collected {
        var chunks: [Int: [[UInt8]]] = [:]
        var done: [Int: UInt64] = [:]
        var failed: [Int: String] = [:]
        var batches = 0
    }

    static func collect(_ files: [(Int, String)], _ parameters: ChunkerParameters) -> Collected {
        let producer = ChunkProducer(files: files, parameters: parameters)
        producer.start()
        var out = Collected()
        while let batch = producer.next() {
            out.batches += 1
            #expect(batch.bytes <= Limits.batchBytes + parameters.maxSize)
            batch.withData { data in
                for event in batch.events {
                    switch event {
                    case .chunk(let entry, let range): out.chunks[entry, default: []].append(Array(data[range]))
                    case .fileDone(let entry, let read): out.done[entry] = read
                    case .fileFailed(let entry, let reason): out.failed[entry] = reason
                    }
                }
            }
            producer.recycle(batch)
        }
        return out
    }

    @Test(arguments: [
        try! ChunkerParameters(minSize: 2048, avgSize: 8192, maxSize: 65536),
        ChunkerParameters.default,
    ])
    func chunksMatchFastCDCOverEachFile(parameters: ChunkerParameters) throws {
        var rng = SeededRandom(seed: 21)
        let folder = try TemporaryFolder("producer")
        let dir = folder.path
        defer { withExtendedLifetime(folder) {} }
        let sizes = [0, 1, 5000, 9 << 20, 300_000, 3 << 20, 77, 12 << 20, 65536]
        var contents: [Int: [UInt8]] = [:]
        var files: [(Int, String)] = []
        for (i, size) in sizes.enumerated() {
            let bytes = rng.bytes(size)
            let path = "\(dir)/f\(i)"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            contents[i] = bytes
            files.append((i, path))
        }
        files.insert((100, "\(dir)/missing"), at: 3)
        files.insert((101, dir), at: 6)  // a directory: not a regular file
        let fifo = "\(dir)/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        files.insert((102, fifo), at: 2)  // a FIFO (say, replacing a file after the walk) must not block

        let got = Self.collect(files, parameters)
        #expect(got.batches >= 3)
        for (i, bytes) in contents {
            let expected = bytes.withUnsafeBytes { FastCDC(parameters).chunkLengths($0) }
            #expect((got.chunks[i] ?? []).map(\.count) == expected, "file \(i) of \(bytes.count) bytes")
            let same = (got.chunks[i] ?? []).flatMap { $0 } == bytes  // not printed: megabytes
            #expect(same, "file \(i): the chunks do not rebuild its bytes")
            #expect(got.done[i] == UInt64(bytes.count))
        }
        #expect(got.failed[100]?.contains("cannot open") == true)
        #expect(got.failed[101]?.contains("no longer a regular file") == true)
        #expect(got.failed[102]?.contains("no longer a regular file") == true)
        #expect(got.chunks[100] == nil && got.chunks[101] == nil && got.chunks[102] == nil)
    }
}
