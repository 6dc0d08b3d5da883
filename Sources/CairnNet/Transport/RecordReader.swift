import NIOCore

/// Splits a TCP byte stream into records (`length u16 | bytes`). The length is read before
/// anything is kept, and a record is at most 65535 bytes by construction, so a peer can
/// make us hold at most one record beyond what it has already sent. Pure: the session
/// runs it over whatever byte pipe carries it (a socket, or later a relayed session).
enum RecordReader {
    /// The next whole record at the front of `buffer`, or nil until all of it has arrived.
    /// A zero length is refused: no record of this protocol is empty; so is one longer than
    /// `max` (handshake messages are short: a peer cannot make us wait for 64 KiB of one).
    static func next(from buffer: inout ByteBuffer, max: Int = TransportLimits.recordBytesMax) throws(NetError) -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return nil }
        guard length > 0 else {
            throw NetError(.malformed, "the peer sent a record of length 0, which this protocol never sends: it is not a Cairn node")
        }
        guard length <= max else {
            throw NetError(.oversized, "the peer announced a \(length)-byte record where at most \(max) may come")
        }
        guard buffer.readableBytes >= TransportLimits.recordLengthBytes + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: TransportLimits.recordLengthBytes)
        return buffer.readSlice(length: Int(length))
    }

    /// Appends `record` with its length prefix.
    static func write(_ record: [UInt8], to buffer: inout ByteBuffer) {
        precondition(!record.isEmpty && record.count <= TransportLimits.recordBytesMax, "record of \(record.count) bytes")
        buffer.writeInteger(UInt16(record.count))
        buffer.writeBytes(record)
    }
}
