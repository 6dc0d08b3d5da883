import NIOCore

/// The two directions of an established session's record stream: every record is one
/// Noise transport message under the next nonce, so a replayed, reordered, dropped or
/// altered record fails to open. Each direction is rekeyed after every
/// `TransportLimits.rekeyIntervalRecords` records, counted on both sides.
struct RecordCiphers {
    private var send: NoiseCipher
    private var receive: NoiseCipher
    private(set) var recordsSealed: UInt64 = 0
    private(set) var recordsOpened: UInt64 = 0

    init(keys: NoiseTransportKeys) {
        send = keys.send
        receive = keys.receive
    }

    /// Seals `plaintext` (any length) into records of at most
    /// `TransportLimits.recordPlaintextMax` bytes each, length-prefixed, into `out`.
    mutating func seal(_ plaintext: ByteBuffer, into out: inout ByteBuffer) throws(NetError) {
        var rest = plaintext
        while rest.readableBytes > 0 {
            let n = min(rest.readableBytes, TransportLimits.recordPlaintextMax)
            // Sealed straight from the buffer's bytes (ByteBuffer's closures cannot throw typed errors).
            let sealed = rest.withUnsafeReadableBytes { raw in
                Result { () throws(NetError) in try send.encrypt(UnsafeRawBufferPointer(rebasing: raw.prefix(n))) }
            }
            rest.moveReaderIndex(forwardBy: n)
            RecordReader.write(try sealed.get(), to: &out)
            recordsSealed += 1
            if recordsSealed % TransportLimits.rekeyIntervalRecords == 0 { send.rekey() }
        }
    }

    /// Opens the peer's next record.
    mutating func open(_ record: ByteBuffer) throws(NetError) -> [UInt8] {
        let opened = record.withUnsafeReadableBytes { raw in Result { () throws(NetError) in try receive.decrypt(raw) } }
        let plaintext = try opened.get()
        recordsOpened += 1
        if recordsOpened % TransportLimits.rekeyIntervalRecords == 0 { receive.rekey() }
        return plaintext
    }
}
