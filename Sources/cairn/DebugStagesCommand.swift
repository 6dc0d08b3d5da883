import ArgumentParser
import CairnCrypto
import CairnData
import Foundation

/// `cairn debug stages`: the throughput of each stage of the backup pipeline on one
/// core, so a slow backup can be traced to its stage and compared with the libraries'
/// own tools (b2sum, zstd -b, openssl speed).
struct DebugStages: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stages", abstract: "Measure each pipeline stage (chunk, hash, compress, encrypt, erasure, Merkle) on one core.")

    @Option(help: "Bytes of random data to push through each stage (K/M/G suffixes).")
    var size: ByteSize = ByteSize(bytes: 256 << 20)

    @Option(help: "Data shards per pack.")
    var k: Int = 3

    @Option(help: "Total shards per pack.")
    var n: Int = 5

    func validate() throws {
        guard size.bytes >= 1 << 20, size.bytes <= 4 << 30 else { throw ValidationError("--size must be between 1M and 4G") }
        guard k >= 1, k <= n, n <= 255 else { throw ValidationError("need 1 <= k <= n <= 255") }
    }

    func run() throws {
        let data = SecureRandom.bytes(size.bytes)
        let params = ChunkerParameters.default
        func measure(_ name: String, _ bytes: Int, _ body: () throws -> Void) rethrows {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            print("  " + name.padding(toLength: 46, withPad: " ", startingAt: 0) + String(format: "%8.0f MB/s", Double(bytes) / dt / 1e6))
        }
        var lengths: [Int] = []
        measure("chunk (FastCDC, avg 1 MiB)", data.count) {
            lengths = data.withUnsafeBytes { FastCDC(params).chunkLengths($0) }
        }
        var ranges: [Range<Int>] = []
        var at = 0
        for l in lengths {
            ranges.append(at..<at + l)
            at += l
        }
        let key = SecureRandom.bytes(32)
        measure("hash (keyed BLAKE2b-256)", data.count) {
            data.withUnsafeBytes { b in for r in ranges { _ = Blake2b.hash(UnsafeRawBufferPointer(rebasing: b[r]), key: key) } }
        }
        for path in Blake2bLanes.availablePaths {
            measure("hash (keyed BLAKE2b-256, lanes: \(path))", data.count) {
                data.withUnsafeBytes { b in
                    _ = Blake2bLanes.hash(ranges.map { Blake2bLanes.Message(body: UnsafeRawBufferPointer(rebasing: b[$0])) },
                                          key: key, path: path)
                }
            }
        }
        var compressed = 0
        measure("compress (zstd level \(ChunkSealer.compressionLevel))", data.count) {
            data.withUnsafeBytes { b in for r in ranges { compressed += Zstd.compress(UnsafeRawBufferPointer(rebasing: b[r]), level: ChunkSealer.compressionLevel).count } }
        }
        let aeadKey = SymmetricKey.random()
        measure("encrypt (XChaCha20-Poly1305)", data.count) {
            data.withUnsafeBytes { b in for r in ranges { _ = AEAD.seal(UnsafeRawBufferPointer(rebasing: b[r]), key: aeadKey) } }
        }
        let coder = try ErasureCoder(k: k, n: n)
        let pack = 16 << 20
        let shardSize = coder.shardSize(forLength: pack)
        let area = UnsafeMutableRawBufferPointer.allocate(byteCount: n * shardSize, alignment: 64)
        defer { area.deallocate() }
        area.initializeMemory(as: UInt8.self, repeating: 0)
        measure("erasure (ISA-L \(k)-of-\(n), 16 MiB packs)", data.count) {
            data.withUnsafeBytes { b in
                for start in stride(from: 0, to: b.count, by: pack) {
                    let piece = UnsafeRawBufferPointer(rebasing: b[start..<min(b.count, start + pack)])
                    UnsafeMutableRawBufferPointer(rebasing: area[..<piece.count]).copyMemory(from: piece)
                    coder.encodeInPlace(area, shardSize: shardSize)
                }
            }
        }
        measure("merkle (BLAKE2b, 64 KiB seg.)", n * shardSize) {
            for i in 0..<n { _ = MerkleTree.root(of: UnsafeRawBufferPointer(rebasing: area[i * shardSize..<(i + 1) * shardSize])) }
        }
        measure("merkle, all shards of a pack at once", n * shardSize) {
            _ = MerkleTree.roots(of: (0..<n).map { UnsafeRawBufferPointer(rebasing: area[$0 * shardSize..<($0 + 1) * shardSize]) })
        }
        print("  (merkle is measured per shard byte; a pack costs n/k times that)")
    }
}
