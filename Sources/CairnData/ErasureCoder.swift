internal import CISAL

/// Reed–Solomon erasure coding over GF(2^8) with ISA-L: a pack becomes n shards of which
/// any k rebuild it, so the pack survives the loss of any n − k holders.
///
/// The code is systematic: shards 0..<k are the data itself, split in order and
/// zero-padded, so a restore that reaches the k data shards needs no arithmetic at all.
/// Parity rows come from a Cauchy matrix (`gf_gen_cauchy1_matrix`), in which every k×k
/// submatrix of the n×k encoding matrix is invertible: any k distinct shards decode.
/// (The Vandermonde-style `gf_gen_rs_matrix` does not promise that for all k and n.)
///
/// The encoding matrix is a function of (k, n) alone, so shards written by one version
/// decode with any other: the matrix is part of the storage format.
public struct ErasureCoder: Sendable {
    /// Largest n: Cauchy rows use the distinct field elements 0..<n, of which GF(2^8) has 256;
    /// ISA-L's own tests stop at 255, and so do we.
    public static let shardCountMax = 255

    /// Number of data shards; any k shards rebuild the data.
    public let k: Int
    /// Total number of shards, data and parity.
    public let n: Int
    /// n×k encoding matrix, row-major: identity on top, Cauchy rows below.
    private let matrix: [UInt8]
    /// ISA-L's expanded tables for the n − k parity rows (32 × k × (n − k) bytes).
    private let parityTables: [UInt8]

    public init(k: Int, n: Int) throws(ErasureCodingError) {
        guard k >= 1, k <= n, n <= Self.shardCountMax else {
            throw ErasureCodingError(.invalidParameters,
                                     "k = \(k), n = \(n): need 1 ≤ k ≤ n ≤ \(Self.shardCountMax) (any k of n shards rebuild the data)")
        }
        self.k = k
        self.n = n
        var matrix = [UInt8](repeating: 0, count: n * k)
        matrix.withUnsafeMutableBufferPointer { gf_gen_cauchy1_matrix($0.baseAddress, Int32(n), Int32(k)) }
        self.matrix = matrix
        var tables = [UInt8](repeating: 0, count: 32 * k * (n - k))
        if n > k {
            matrix.withUnsafeBufferPointer { m in
                tables.withUnsafeMutableBufferPointer { t in
                    ec_init_tables(Int32(k), Int32(n - k), UnsafeMutablePointer(mutating: m.baseAddress! + k * k), t.baseAddress)
                }
            }
        }
        parityTables = tables
    }

    /// Bytes per shard for `length` bytes of data: ceil(length / k).
    ///
    /// Not rounded up to a SIMD width: ISA-L handles any length itself, and shard bytes are
    /// what holders store and challenges address, so padding would only waste their space.
    public func shardSize(forLength length: Int) -> Int {
        precondition(length >= 0, "length \(length)")
        return (length + k - 1) / k
    }

    /// The n shards of `data`: the first k are the data split in order (the last one
    /// zero-padded), the rest parity. All have `shardSize(forLength: data.count)` bytes.
    public func encode(_ data: UnsafeRawBufferPointer) -> [[UInt8]] {
        let size = shardSize(forLength: data.count)
        precondition(size <= Int(Int32.max), "shard size \(size) exceeds ISA-L's Int32 length")
        guard size > 0 else { return Array(repeating: [], count: n) }
        // All n shards in one scratch area: the data (zero-padded) then the parity.
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: n * size, alignment: 64)
        defer { scratch.deallocate() }
        scratch.copyMemory(from: data)
        scratch[data.count...].initializeMemory(as: UInt8.self, repeating: 0)
        let base = scratch.baseAddress!.assumingMemoryBound(to: UInt8.self)
        Self.run(tables: parityTables, k: k, sources: (0..<k).map { base + $0 * size },
                 outputs: (k..<n).map { base + $0 * size }, size: size)
        return (0..<n).map { Self.array(base + $0 * size, count: size) }
    }

    /// Computes the parity shards in place. `buffer` holds n shards of `shardSize` bytes
    /// back to back, the first k already filled with the data (zero-padded); the last
    /// n−k are overwritten with parity. For writers that reuse one buffer for every pack.
    public func encodeInPlace(_ buffer: UnsafeMutableRawBufferPointer, shardSize size: Int) {
        precondition(size >= 0 && size <= Int(Int32.max), "shard size \(size)")
        precondition(buffer.count >= n * size, "buffer of \(buffer.count) bytes for \(n) shards of \(size)")
        guard size > 0, n > k, let raw = buffer.baseAddress else { return }
        let base = raw.assumingMemoryBound(to: UInt8.self)
        Self.run(tables: parityTables, k: k, sources: (0..<k).map { base + $0 * size },
                 outputs: (k..<n).map { base + $0 * size }, size: size)
    }

    public func encode(_ data: [UInt8]) -> [[UInt8]] {
        data.withUnsafeBytes { encode($0) }
    }

    /// The original `originalLength` bytes from any k or more distinct shards, by index.
    /// Data shards are used as they are; only missing ones are computed.
    public func reconstruct(shards: [Int: [UInt8]], originalLength: Int) throws(ErasureCodingError) -> [UInt8] {
        guard originalLength >= 0 else {
            throw ErasureCodingError(.inconsistentShardSizes, "original length \(originalLength) is negative")
        }
        let size = try checkShards(shards, originalLength: originalLength)
        let missingData = (0..<k).filter { shards[$0] == nil }
        let rebuilt = try rebuildRows(shards: shards, rows: missingData, size: size)
        var data: [UInt8] = []
        data.reserveCapacity(k * size)
        for i in 0..<k {
            data += shards[i] ?? rebuilt[i]!
        }
        data.removeLast(data.count - originalLength)
        return data
    }

    /// Regenerates the shards at `missing` from any k present ones, byte-identical to what
    /// `encode` produced. Needs no original length and no plaintext, so a holder can repair
    /// a pack it cannot read. Indexes already present are recomputed all the same.
    public func rebuild(shards: [Int: [UInt8]], missing: [Int]) throws(ErasureCodingError) -> [Int: [UInt8]] {
        for index in missing where !(0..<n).contains(index) {
            throw ErasureCodingError(.shardIndexOutOfRange, "cannot rebuild shard \(index): indexes run from 0 to \(n - 1)")
        }
        let size = try checkShards(shards, originalLength: nil)
        let rows = Array(Set(missing)).sorted()
        return try rebuildRows(shards: shards, rows: rows, size: size)
    }

    /// Checks indexes, count and sizes; returns the common shard size.
    private func checkShards(_ shards: [Int: [UInt8]], originalLength: Int?) throws(ErasureCodingError) -> Int {
        if let bad = shards.keys.sorted().first(where: { !(0..<n).contains($0) }) {
            throw ErasureCodingError(.shardIndexOutOfRange, "shard index \(bad) is outside 0...\(n - 1) for a \(k)-of-\(n) code")
        }
        guard shards.count >= k else {
            let missing = (0..<n).filter { shards[$0] == nil }
            throw ErasureCodingError(.notEnoughShards, "have \(shards.count) of the \(k) shards needed "
                + "(present: \(shards.keys.sorted()), missing: \(missing)); fetch \(k - shards.count) more from other holders")
        }
        let sizes = Set(shards.values.map(\.count))
        guard sizes.count == 1, let size = sizes.first else {
            let listing = shards.keys.sorted().map { "\($0): \(shards[$0]!.count)" }.joined(separator: ", ")
            throw ErasureCodingError(.inconsistentShardSizes, "shards differ in size (\(listing)); "
                + "some belong to another pack or were damaged")
        }
        if let originalLength, size != shardSize(forLength: originalLength) {
            throw ErasureCodingError(.inconsistentShardSizes, "shards hold \(size) bytes but \(originalLength) bytes "
                + "in \(k) shards need \(shardSize(forLength: originalLength)); the length or the shards are wrong")
        }
        precondition(size <= Int(Int32.max), "shard size \(size) exceeds ISA-L's Int32 length")
        return size
    }

    /// Computes the shards at `rows` from the first k present shards (lowest indexes, so
    /// data shards are preferred): invert those k rows of the matrix, multiply each wanted
    /// row by the inverse, and run the products through ISA-L.
    private func rebuildRows(shards: [Int: [UInt8]], rows: [Int], size: Int) throws(ErasureCodingError) -> [Int: [UInt8]] {
        guard !rows.isEmpty else { return [:] }
        let chosen = Array(shards.keys.sorted().prefix(k))
        var sub = [UInt8](repeating: 0, count: k * k)
        for (r, index) in chosen.enumerated() {
            for c in 0..<k { sub[r * k + c] = matrix[index * k + c] }
        }
        var inverse = [UInt8](repeating: 0, count: k * k)
        let rc = sub.withUnsafeMutableBufferPointer { s in
            inverse.withUnsafeMutableBufferPointer { i in gf_invert_matrix(s.baseAddress, i.baseAddress, Int32(k)) }
        }
        guard rc == 0 else {
            throw ErasureCodingError(.singularMatrix, "rows \(chosen) of the \(k)-of-\(n) matrix are not invertible; "
                + "this is a bug in Cairn, please report it")
        }
        // Shard r = matrix[r] · data = (matrix[r] · inverse) · chosen shards.
        var coefficients = [UInt8](repeating: 0, count: rows.count * k)
        for (o, row) in rows.enumerated() {
            for c in 0..<k {
                var sum: UInt8 = 0
                for j in 0..<k { sum ^= gf_mul(matrix[row * k + j], inverse[j * k + c]) }
                coefficients[o * k + c] = sum
            }
        }
        var tables = [UInt8](repeating: 0, count: 32 * k * rows.count)
        coefficients.withUnsafeMutableBufferPointer { c in
            tables.withUnsafeMutableBufferPointer { t in ec_init_tables(Int32(k), Int32(rows.count), c.baseAddress, t.baseAddress) }
        }
        let outputs = Self.apply(tables: tables, sources: chosen.map { shards[$0]! }, outputs: rows.count, size: size, k: k)
        var result: [Int: [UInt8]] = [:]
        for (o, row) in rows.enumerated() { result[row] = outputs[o] }
        return result
    }

    /// Runs `ec_encode_data`: `outputs` new shards from k `sources`, each `size` bytes.
    private static func apply(tables: [UInt8], sources: [[UInt8]], outputs: Int, size: Int, k: Int) -> [[UInt8]] {
        precondition(sources.count == k && sources.allSatisfy { $0.count == size }, "sources \(sources.map(\.count))")
        guard outputs > 0 else { return [] }
        guard size > 0 else { return Array(repeating: [], count: outputs) }
        // ISA-L wants every buffer at once; copy into one scratch area, then out again.
        // The copies cost far less than the GF(2^8) arithmetic they surround.
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: (k + outputs) * size, alignment: 64)
        defer { scratch.deallocate() }
        let base = scratch.baseAddress!.assumingMemoryBound(to: UInt8.self)
        for (i, source) in sources.enumerated() {
            source.withUnsafeBufferPointer { (base + i * size).update(from: $0.baseAddress!, count: size) }
        }
        run(tables: tables, k: k, sources: (0..<k).map { base + $0 * size },
            outputs: (0..<outputs).map { base + (k + $0) * size }, size: size)
        return (0..<outputs).map { array(base + (k + $0) * size, count: size) }
    }

    /// `ec_encode_data` over raw pointers: every output row from the k sources.
    private static func run(tables: [UInt8], k: Int, sources: [UnsafeMutablePointer<UInt8>],
                            outputs: [UnsafeMutablePointer<UInt8>], size: Int) {
        guard !outputs.isEmpty, size > 0 else { return }
        precondition(sources.count == k && tables.count == 32 * k * outputs.count,
                     "ec_encode_data with k \(k), \(sources.count) sources, \(outputs.count) outputs, \(tables.count) table bytes")
        var sourcePointers: [UnsafeMutablePointer<UInt8>?] = sources
        var outputPointers: [UnsafeMutablePointer<UInt8>?] = outputs
        tables.withUnsafeBufferPointer { t in
            ec_encode_data(Int32(size), Int32(k), Int32(outputs.count), UnsafeMutablePointer(mutating: t.baseAddress),
                           &sourcePointers, &outputPointers)
        }
    }

    /// A new array holding a copy of `count` bytes at `pointer` (one memcpy).
    private static func array(_ pointer: UnsafePointer<UInt8>, count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            buffer.baseAddress!.update(from: pointer, count: count)
            initialized = count
        }
    }
}
