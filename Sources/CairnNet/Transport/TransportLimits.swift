import CairnCore

/// The fixed bounds of the session wire format. Both ends must agree on every one of
/// these (they are protocol, not tuning: tuning lives in `TransportConfiguration`), so a
/// change here is a new transport version (`SessionHello.version`).
public enum TransportLimits {
    /// Every record on a TCP stream is `length u16 | bytes`: a Noise message.
    public static let recordLengthBytes = 2
    /// A Noise message is at most 65535 bytes (the Noise specification's bound).
    public static let recordBytesMax = 65535
    /// The AEAD tag each sealed record carries.
    public static let recordTagBytes = 16
    /// Plaintext in one sealed record: the record minus its tag.
    public static let recordPlaintextMax = recordBytesMax - recordTagBytes
    /// A frame inside the encrypted stream is `kind u8 | length u32 | body`.
    public static let frameHeaderBytes = 5
    /// A message frame carries one core message (`Message.encode(sent:)`).
    public static let messageBytesMax = ProtocolLimits.messageBytesMax
    /// Largest chunk frame a receiver accepts.
    public static let chunkBytesMax = 64 * 1024
    /// Chunk a sender writes: header and body fill one sealed record exactly.
    public static let chunkBytesSent = recordPlaintextMax - frameHeaderBytes
    /// Each direction's cipher is rekeyed (Noise `REKEY`) after every this many records
    /// it sealed or opened: at most 64 MiB of plaintext under one key, whatever the
    /// length of a stream. Both sides count, so no message announces it.
    public static let rekeyIntervalRecords: UInt64 = 1024
    /// Core messages whose encoding is at most this long may travel as a UDP datagram
    /// (with the id, counter and tag the datagram stays under a 1280-byte IPv6 MTU).
    public static let datagramMessageBytesMax = 1200
    /// A datagram starts with the receiver's id for the session.
    public static let datagramIDBytes = 8
    /// Largest datagram read: id, then `DatagramCipher` output (counter 8, message, tag 16).
    public static let datagramBytesMax = datagramIDBytes + 8 + datagramMessageBytesMax + recordTagBytes
}
