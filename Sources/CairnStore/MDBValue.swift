internal import CLMDB

/// Turns LMDB's `MDB_val` (a pointer and a length, valid until the transaction ends or
/// the next write) into Swift buffers without copying.
extension MDB_val {
    /// The bytes as a raw buffer; only valid while the transaction is open.
    var buffer: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mv_data, count: mv_size)
    }
}

/// Calls `body` with an `MDB_val` pointing at `bytes`. LMDB never writes through a key
/// or a value passed in, so the `mutating` cast is sound.
func withMDBValue<R, E: Error>(_ bytes: [UInt8], _ body: (inout MDB_val) throws(E) -> R) throws(E) -> R {
    let result: Result<R, E> = bytes.withUnsafeBytes { buf in
        var val = MDB_val(mv_size: buf.count, mv_data: UnsafeMutableRawPointer(mutating: buf.baseAddress))
        do throws(E) { return .success(try body(&val)) } catch { return .failure(error) }
    }
    return try result.get()
}
