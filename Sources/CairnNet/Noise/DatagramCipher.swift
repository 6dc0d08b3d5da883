import CairnCrypto
import CairnWire

/// Protection for the UDP datagrams of a session: each is `counter (u64 big-endian) ||
/// ChaCha20-Poly1305 IETF ciphertext`, the counter being the nonce (Noise's layout: 32
/// zero bits, then the counter little-endian). Datagrams may be lost or reordered, so
/// unlike the stream the receiver does not insist on the next counter: a sliding window of
/// 2048 counters accepts each one once, refusing replays and counters too far behind.
///
/// Keys come from `NoiseTransportKeys` (`datagramSend` / `datagramReceive`).
public struct DatagramCipher: Sendable {
    /// Bytes of the counter in front of the ciphertext.
    public static let counterLength = 8
    /// Bytes a datagram adds to its plaintext: counter and tag.
    public static let overhead = counterLength + NoisePrimitives.tagLength
    /// The largest datagram accepted (UDP's own bound); larger ones are refused unread.
    public static let datagramLengthMax = NoisePrimitives.messageLengthMax
    /// The largest plaintext one datagram carries.
    public static let plaintextLengthMax = datagramLengthMax - overhead
    /// Counters accepted behind the highest received.
    public static let replayWindowSize = Int(ReplayWindow.size)

    private let sendKey: SecureBytes
    private let receiveKey: SecureBytes
    /// The counter the next `seal` uses.
    public private(set) var nextSendCounter: UInt64 = 0
    private var window = ReplayWindow()

    /// The datagram ciphers of a completed handshake, oriented as its keys are.
    public init(keys: NoiseTransportKeys) {
        self.init(sendKey: keys.datagramSend, receiveKey: keys.datagramReceive)
    }

    init(sendKey: SecureBytes, receiveKey: SecureBytes) {
        precondition(sendKey.count == NoisePrimitives.keyLength && receiveKey.count == NoisePrimitives.keyLength,
                     "datagram keys of \(sendKey.count) and \(receiveKey.count) bytes")
        self.sendKey = sendKey
        self.receiveKey = receiveKey
    }

    /// Seals `plaintext` under the next counter; `ad` is authenticated, not sent.
    public mutating func seal(_ plaintext: [UInt8], ad: [UInt8] = []) throws(NetError) -> [UInt8] {
        guard plaintext.count <= Self.plaintextLengthMax else {
            throw NetError(.oversized, "a datagram carries at most \(Self.plaintextLengthMax) bytes, not \(plaintext.count); send it on the stream")
        }
        guard nextSendCounter < UInt64.max else {
            throw NetError(.overloaded, "this session has sent 2^64-1 datagrams; open a new session")
        }
        let counter = nextSendCounter
        var header = ByteWriter(capacity: Self.counterLength)
        header.u64(counter)
        let datagram = plaintext.withUnsafeBytes { p in
            ad.withUnsafeBytes { a in
                NoisePrimitives.seal(key: sendKey, nonce: counter, ad: a, plaintext: p, prefix: header.bytes)
            }
        }
        nextSendCounter += 1
        return datagram
    }

    /// Opens a datagram from the peer, once: a replay, a counter more than
    /// `replayWindowSize` behind the newest, or a bad tag is `.badCiphertext`, and then
    /// nothing changes (a forgery cannot move the window).
    public mutating func open(_ datagram: [UInt8], ad: [UInt8] = []) throws(NetError) -> [UInt8] {
        guard datagram.count <= Self.datagramLengthMax else {
            throw NetError(.oversized, "a datagram is at most \(Self.datagramLengthMax) bytes, this one is \(datagram.count)")
        }
        guard datagram.count >= Self.overhead else {
            throw NetError(.malformed, "a datagram is at least \(Self.overhead) bytes (counter and tag), this one is \(datagram.count); it was cut short")
        }
        var counter: UInt64 = 0
        for i in 0..<Self.counterLength { counter = counter << 8 | UInt64(datagram[i]) }
        guard counter < UInt64.max else {
            throw NetError(.badCiphertext, "datagram counter 2^64-1 is never sent; the peer is hostile")
        }
        switch window.check(counter) {
        case .replayed:
            throw NetError(.badCiphertext, "datagram \(counter) was already received: a replay, dropped")
        case .tooOld:
            throw NetError(.badCiphertext, "datagram \(counter) is more than \(Self.replayWindowSize) behind the newest; too old to tell from a replay, dropped")
        case .fresh:
            break
        }
        let plaintext = datagram.withUnsafeBytes { raw in
            ad.withUnsafeBytes { a in
                NoisePrimitives.open(key: receiveKey, nonce: counter, ad: a,
                                     ciphertext: UnsafeRawBufferPointer(rebasing: raw[Self.counterLength...]))
            }
        }
        guard let plaintext else {
            throw NetError(.badCiphertext, "datagram \(counter) did not authenticate: altered, or sent under another key; dropped")
        }
        window.accept(counter)
        return plaintext
    }
}
