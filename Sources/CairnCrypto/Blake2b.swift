internal import CSodium

/// BLAKE2b through libsodium: chunk ids (keyed, so peers cannot confirm guesses about
/// content), Merkle trees over shard segments, and object ids.
public struct Blake2b: ~Copyable {
    /// Output sizes libsodium accepts.
    public static let outputMin = 16
    public static let outputMax = 64
    /// Key sizes libsodium accepts (0 = unkeyed).
    public static let keyMax = 64

    /// libsodium's state is 64-byte aligned, which Swift cannot import as a value type;
    /// it lives in its own aligned allocation, freed in `deinit`.
    private let state: UnsafeMutableRawPointer
    private let outputLength: Int

    private var statePointer: OpaquePointer { OpaquePointer(state) }

    /// Starts a streaming hash. `key` may be empty (unkeyed) or up to 64 bytes.
    public init(outputLength: Int = 32, key: [UInt8] = []) {
        _ = Sodium.ready
        precondition((Self.outputMin...Self.outputMax).contains(outputLength), "BLAKE2b output length \(outputLength)")
        precondition(key.count <= Self.keyMax, "BLAKE2b key length \(key.count)")
        self.outputLength = outputLength
        state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        let st = OpaquePointer(state)
        let rc = key.withUnsafeBufferPointer { k in
            crypto_generichash_init(st, k.count == 0 ? nil : k.baseAddress, k.count, outputLength)
        }
        precondition(rc == 0, "crypto_generichash_init rc=\(rc)")
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let rc = crypto_generichash_update(statePointer, base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
        precondition(rc == 0, "crypto_generichash_update rc=\(rc)")
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    deinit {
        state.deallocate()
    }

    public consuming func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outputLength)
        let len = outputLength
        let st = statePointer
        let rc = out.withUnsafeMutableBufferPointer { o in crypto_generichash_final(st, o.baseAddress!, len) }
        precondition(rc == 0, "crypto_generichash_final rc=\(rc)")
        return out
    }

    /// One-shot hash of `bytes`.
    public static func hash(_ bytes: UnsafeRawBufferPointer, outputLength: Int = 32, key: [UInt8] = []) -> [UInt8] {
        key.withUnsafeBytes { hash(bytes, outputLength: outputLength, rawKey: $0) }
    }

    public static func hash(_ bytes: [UInt8], outputLength: Int = 32, key: [UInt8] = []) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0, outputLength: outputLength, key: key) }
    }

    /// One-shot keyed hash with a key that stays in its zeroing buffer (no array copy).
    public static func hash(_ bytes: UnsafeRawBufferPointer, outputLength: Int = 32, key: SymmetricKey) -> [UInt8] {
        key.withUnsafeBytes { hash(bytes, outputLength: outputLength, rawKey: $0) }
    }

    public static func hash(_ bytes: [UInt8], outputLength: Int = 32, key: SymmetricKey) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0, outputLength: outputLength, key: key) }
    }

    private static func hash(_ bytes: UnsafeRawBufferPointer, outputLength: Int, rawKey k: UnsafeRawBufferPointer) -> [UInt8] {
        _ = Sodium.ready
        precondition(outputLength >= outputMin && outputLength <= outputMax, "BLAKE2b output length \(outputLength)")
        precondition(k.count <= keyMax, "BLAKE2b key length \(k.count)")
        // Written in place (no zero fill, no closure over a generic buffer): this runs for
        // every Merkle node the simulator checks.
        return [UInt8](unsafeUninitializedCapacity: outputLength) { o, initialized in
            let rc = crypto_generichash(
                o.baseAddress!, outputLength,
                bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count),
                k.count == 0 ? nil : k.baseAddress?.assumingMemoryBound(to: UInt8.self), k.count)
            precondition(rc == 0, "crypto_generichash rc=\(rc)")
            initialized = outputLength
        }
    }
}
