internal import CSodium

/// A fixed-size buffer of secret bytes (keys, seeds) that is wiped with `sodium_memzero`
/// when freed, so secrets do not linger in freed heap memory the way `[UInt8]` copies do.
///
/// A class because the wipe needs `deinit` and because copying secrets around is what this
/// type exists to avoid. The size never changes; the contents change only through
/// `withUnsafeMutableBytes`, which Cairn uses only while constructing a key — so sharing an
/// instance across tasks is safe in practice (`@unchecked Sendable`).
public final class SecureBytes: @unchecked Sendable {
    private let storage: UnsafeMutableRawPointer
    public let count: Int

    /// `count` zero bytes.
    public init(count: Int) {
        precondition(count >= 0, "SecureBytes count \(count)")
        _ = Sodium.ready
        self.count = count
        // Never a zero-byte allocation, so `storage` is always a valid pointer.
        storage = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
    }

    /// A copy of `bytes`. The caller still owns (and should drop) the source.
    public convenience init(copying bytes: some Collection<UInt8>) {
        self.init(count: bytes.count)
        UnsafeMutableRawBufferPointer(start: storage, count: count).copyBytes(from: bytes)
    }

    deinit {
        sodium_memzero(storage, max(count, 1))
        storage.deallocate()
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage, count: count))
    }

    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: storage, count: count))
    }

    /// An ordinary, unprotected copy: for tests and for writing a key file. Drop it soon.
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }
}
