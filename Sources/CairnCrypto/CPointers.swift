/// libsodium takes non-null pointers even for empty inputs, while Swift gives an empty
/// buffer a nil base address. This hands `body` a valid pointer in every case (a local
/// byte when `bytes` is empty), so call sites need no force-unwraps.
func withNonNullBytes<R>(_ bytes: UnsafeRawBufferPointer,
                         _ body: (UnsafePointer<UInt8>, Int) throws -> R) rethrows -> R {
    if let base = bytes.baseAddress, bytes.count > 0 {
        return try body(base.assumingMemoryBound(to: UInt8.self), bytes.count)
    }
    let empty: UInt8 = 0
    return try withUnsafePointer(to: empty) { try body($0, 0) }
}

/// `withNonNullBytes` for an array.
func withNonNullBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) throws -> R) rethrows -> R {
    try bytes.withUnsafeBytes { try withNonNullBytes($0, body) }
}
