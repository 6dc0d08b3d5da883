import CairnCrypto
import CairnNet
import Testing

/// Two ends of one handshake with fresh keys, and a driver that can damage one message.
struct HandshakePair {
    var initiator: NoiseHandshake
    var responder: NoiseHandshake
    let initiatorStatic: X25519KeyPair?
    let responderStatic: X25519KeyPair?
    static let prologue = Array("cairn test prologue".utf8)

    init(_ pattern: NoisePattern, responderKeyGivenToInitiator: [UInt8]? = nil) throws {
        initiatorStatic = pattern == .nn ? nil : X25519KeyPair.generate()
        responderStatic = pattern == .nn ? nil : X25519KeyPair.generate()
        let known = pattern == .ik ? (responderKeyGivenToInitiator ?? responderStatic?.publicKey) : nil
        initiator = try NoiseHandshake(pattern: pattern, role: .initiator, prologue: Self.prologue,
                                       localStatic: initiatorStatic, remoteStatic: known)
        responder = try NoiseHandshake(pattern: pattern, role: .responder, prologue: Self.prologue,
                                       localStatic: responderStatic, remoteStatic: nil)
    }

    /// Runs the handshake, passing message `index` through `damage`. Returns the index of
    /// the message whose reading (or answering) failed and the error, or nil if it completed.
    mutating func run(damaging index: Int = -1, _ damage: ([UInt8]) -> [UInt8] = { $0 }) -> (Int, NetError)? {
        drive(&initiator, &responder, damaging: index, damage)
    }
}

/// Either end of a handshake, as the drivers below see it.
protocol DrivableHandshake {
    var isComplete: Bool { get }
    var isMyTurnToWrite: Bool { get }
    /// Writes message `index` (with whatever payload this kind of handshake sends).
    mutating func write(index: Int) throws(NetError) -> [UInt8]
    /// Reads message `index`; `intact` says whether it is the one written.
    mutating func read(_ message: [UInt8], index: Int, intact: Bool) throws(NetError)
}

extension NoiseHandshake: DrivableHandshake {
    static func payload(_ index: Int) -> [UInt8] { Array("payload \(index)".utf8) }

    mutating func write(index: Int) throws(NetError) -> [UInt8] {
        try writeMessage(payload: Self.payload(index))
    }

    mutating func read(_ message: [UInt8], index: Int, intact: Bool) throws(NetError) {
        let received = try readMessage(message)
        #expect(received == Self.payload(index) || !intact)
    }
}

/// Runs a handshake to its end, passing message `index` through `damage`. Returns the
/// index of the message being written or read when the first error came, and the error;
/// nil if both sides completed.
func drive<H: DrivableHandshake>(_ initiator: inout H, _ responder: inout H, damaging index: Int = -1,
                                 _ damage: ([UInt8]) -> [UInt8] = { $0 }) -> (Int, NetError)? {
    var i = 0
    while !(initiator.isComplete && responder.isComplete) {
        do throws(NetError) {
            if initiator.isMyTurnToWrite {
                let wire = try initiator.write(index: i)
                try responder.read(i == index ? damage(wire) : wire, index: i, intact: i != index)
            } else if responder.isMyTurnToWrite {
                let wire = try responder.write(index: i)
                try initiator.read(i == index ? damage(wire) : wire, index: i, intact: i != index)
            } else {
                return (i, NetError(.handshakeFailed, "neither side may write"))
            }
        } catch {
            return (i, error)
        }
        i += 1
    }
    return nil
}

@Suite struct NoiseHandshakeTests {
    /// Message counts, and which messages carry no tag (their damage shows one message later).
    static let shapes: [(NoisePattern, count: Int, untagged: Set<Int>)] = [(.nn, 2, [0]), (.xx, 3, [0]), (.ik, 2, [])]

    // MARK: Round trips

    @Test(arguments: NoisePattern.allCases)
    func completesAndAgrees(pattern: NoisePattern) throws {
        var pair = try HandshakePair(pattern)
        #expect(pair.run() == nil)
        #expect(pair.initiator.handshakeHash == pair.responder.handshakeHash)
        #expect(pair.initiator.remoteStatic == pair.responderStatic?.publicKey)
        #expect(pair.responder.remoteStatic == pair.initiatorStatic?.publicKey)
        var a = try pair.initiator.split()
        var b = try pair.responder.split()
        #expect(try b.receive.decrypt(a.send.encrypt(Array("to responder".utf8))) == Array("to responder".utf8))
        #expect(try a.receive.decrypt(b.send.encrypt(Array("to initiator".utf8))) == Array("to initiator".utf8))
        // Stream and datagram keys are four different keys, paired across the two sides.
        #expect(a.datagramSend.bytes == b.datagramReceive.bytes && a.datagramReceive.bytes == b.datagramSend.bytes)
        #expect(a.datagramSend.bytes != a.datagramReceive.bytes)
        #expect(a.datagramSend.bytes.count == 32)
    }

    @Test func freshEphemeralsMakeFreshSessions() throws {
        var first = try HandshakePair(.nn)
        var second = try HandshakePair(.nn)
        #expect(first.run() == nil && second.run() == nil)
        #expect(first.initiator.handshakeHash != second.initiator.handshakeHash)
    }

    @Test func differentProloguesNeverAgree() throws {
        var initiator = try NoiseHandshake(pattern: .nn, role: .initiator, prologue: Array("cairn session v1".utf8),
                                           localStatic: nil, remoteStatic: nil)
        var responder = try NoiseHandshake(pattern: .nn, role: .responder, prologue: Array("cairn session v2".utf8),
                                           localStatic: nil, remoteStatic: nil)
        _ = try responder.readMessage(initiator.writeMessage(payload: []))
        let reply = try responder.writeMessage(payload: [])
        expectCode(.handshakeFailed) { _ = try initiator.readMessage(reply) }
    }

    // MARK: Damage

    @Test(arguments: shapes.map(\.0))
    func aFlippedBitAnywhereFailsTheHandshake(pattern: NoisePattern) throws {
        let shape = try #require(Self.shapes.first { $0.0 == pattern })
        for index in 0..<shape.count {
            var probe = try HandshakePair(pattern)
            let length = try #require(Self.lengthOfMessage(index, in: &probe))
            for byte in 0..<length {
                var pair = try HandshakePair(pattern)
                let outcome = pair.run(damaging: index) { wire in
                    var damaged = wire
                    damaged[byte] ^= 1 << UInt8(byte % 8)
                    return damaged
                }
                let (failedAt, error) = try #require(outcome, "\(pattern) message \(index) byte \(byte) flipped, yet it completed")
                #expect(error.code == .handshakeFailed, "\(pattern) message \(index) byte \(byte): \(error)")
                // A tagged message fails on arrival; an untagged one fails the next message.
                #expect(failedAt == (shape.untagged.contains(index) ? index + 1 : index), "\(pattern) message \(index) byte \(byte)")
            }
        }
    }

    @Test(arguments: shapes.map(\.0))
    func aTruncatedMessageIsRefused(pattern: NoisePattern) throws {
        let shape = try #require(Self.shapes.first { $0.0 == pattern })
        for index in 0..<shape.count {
            // Shorter than its keys: malformed, before any cryptography.
            for keep in [0, 1, 31] {
                var pair = try HandshakePair(pattern)
                let outcome = pair.run(damaging: index) { Array($0.prefix(keep)) }
                let (failedAt, error) = try #require(outcome)
                #expect(failedAt == index && error.code == .malformed, "\(pattern) message \(index) cut to \(keep): \(error)")
            }
            // One byte short: the tag (or, untagged, the transcript) no longer matches.
            var pair = try HandshakePair(pattern)
            let (failedAt, error) = try #require(pair.run(damaging: index) { Array($0.dropLast()) })
            #expect(error.code == .handshakeFailed)
            #expect(failedAt == (shape.untagged.contains(index) ? index + 1 : index))
        }
    }

    @Test func anOversizedMessageIsRefusedUnread() throws {
        var pair = try HandshakePair(.xx)
        expectCode(.oversized) { _ = try pair.responder.readMessage([UInt8](repeating: 0, count: 65536)) }
        var writer = try HandshakePair(.xx)
        expectCode(.oversized) { _ = try writer.initiator.writeMessage(payload: [UInt8](repeating: 0, count: 65535 - 31)) }
        // The refused write changed nothing: the same handshake still completes.
        #expect(writer.run() == nil)
        // Exactly 65535 bytes is a message: XX message 1 is the 32-byte key and its payload.
        var largest = try HandshakePair(.xx)
        let payload = [UInt8](repeating: 5, count: 65535 - 32)
        let wire = try largest.initiator.writeMessage(payload: payload)
        #expect(wire.count == 65535)
        #expect(try largest.responder.readMessage(wire) == payload)
    }

    /// Points whose X25519 product is all zeros: 0, 1, p (= 0 mod p), and one of order 8.
    static let lowOrderPoints: [String] = [
        String(repeating: "00", count: 32),
        "01" + String(repeating: "00", count: 31),
        "ec" + String(repeating: "ff", count: 30) + "7f",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    ]

    @Test(arguments: lowOrderPoints)
    func aLowOrderEphemeralIsRefused(point: String) throws {
        let bad = try hex(point)
        // NN: the responder accepts the bytes but refuses to answer over them.
        var nn = try HandshakePair(.nn)
        var first = try nn.initiator.writeMessage(payload: [])
        first.replaceSubrange(0..<32, with: bad)
        _ = try nn.responder.readMessage(first)
        expectCode(.handshakeFailed) { _ = try nn.responder.writeMessage(payload: []) }
        // IK: es uses it at once.
        var ik = try HandshakePair(.ik)
        var hello = try ik.initiator.writeMessage(payload: [])
        hello.replaceSubrange(0..<32, with: bad)
        expectCode(.handshakeFailed) { _ = try ik.responder.readMessage(hello) }
        // A responder static key of low order, given to an IK initiator.
        var toBad = try HandshakePair(.ik, responderKeyGivenToInitiator: bad)
        expectCode(.handshakeFailed) { _ = try toBad.initiator.writeMessage(payload: []) }
    }

    @Test func ikToTheWrongResponderKeyFails() throws {
        var pair = try HandshakePair(.ik, responderKeyGivenToInitiator: X25519KeyPair.generate().publicKey)
        let outcome = pair.run()
        let (failedAt, error) = try #require(outcome)
        #expect(failedAt == 0 && error.code == .handshakeFailed)
        #expect(!pair.responder.isComplete && pair.responder.remoteStatic == nil)
    }

    // MARK: Order

    @Test(arguments: NoisePattern.allCases)
    func messagesOutOfTurnOrAfterTheEndAreRefused(pattern: NoisePattern) throws {
        var pair = try HandshakePair(pattern)
        expectCode(.handshakeFailed) { _ = try pair.responder.writeMessage(payload: []) }
        expectCode(.handshakeFailed) { _ = try pair.initiator.readMessage([UInt8](repeating: 0, count: 96)) }
        expectCode(.handshakeFailed) { _ = try pair.initiator.split() }
        var fresh = try HandshakePair(pattern)
        #expect(fresh.run() == nil)
        expectCode(.handshakeFailed) { _ = try fresh.initiator.writeMessage(payload: []) }
        expectCode(.handshakeFailed) { _ = try fresh.responder.readMessage([UInt8](repeating: 0, count: 96)) }
        #expect(!fresh.initiator.isMyTurnToWrite && !fresh.responder.isMyTurnToWrite)
    }

    @Test func aFailedHandshakeStaysFailed() throws {
        var pair = try HandshakePair(.xx)
        let first = try pair.initiator.writeMessage(payload: [])
        _ = try pair.responder.readMessage(first)
        var second = try pair.responder.writeMessage(payload: [])
        second[40] ^= 1
        expectCode(.handshakeFailed) { _ = try pair.initiator.readMessage(second) }
        second[40] ^= 1
        // The genuine message, now, does not revive it.
        expectCode(.handshakeFailed) { _ = try pair.initiator.readMessage(second) }
        expectCode(.handshakeFailed) { _ = try pair.initiator.split() }
        #expect(!pair.initiator.isComplete && !pair.initiator.isMyTurnToWrite)
    }

    @Test func wrongKeyArgumentsAreRefused() throws {
        let key = X25519KeyPair.generate()
        expectCode(.handshakeFailed) { _ = try NoiseHandshake(pattern: .xx, role: .initiator, prologue: [], localStatic: nil, remoteStatic: nil) }
        expectCode(.handshakeFailed) { _ = try NoiseHandshake(pattern: .nn, role: .initiator, prologue: [], localStatic: key, remoteStatic: nil) }
        expectCode(.handshakeFailed) { _ = try NoiseHandshake(pattern: .ik, role: .initiator, prologue: [], localStatic: key, remoteStatic: nil) }
        expectCode(.handshakeFailed) { _ = try NoiseHandshake(pattern: .xx, role: .responder, prologue: [], localStatic: key, remoteStatic: key.publicKey) }
        expectCode(.malformed) { _ = try NoiseHandshake(pattern: .ik, role: .initiator, prologue: [], localStatic: key, remoteStatic: [1, 2, 3]) }
        expectCode(.malformed) { _ = try X25519KeyPair(secret: [UInt8](repeating: 7, count: 31)) }
    }

    /// The length of message `index` of an undamaged run.
    static func lengthOfMessage(_ index: Int, in pair: inout HandshakePair) -> Int? {
        var length: Int?
        _ = pair.run(damaging: index) { wire in
            length = wire.count
            return wire
        }
        return length
    }
}

/// Expects `body` to throw a `NetError` with `code`. (Untyped: a closure literal's thrown
/// type is not inferred from a typed-throws parameter.)
func expectCode(_ code: NetError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a \(code) error, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as NetError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a NetError \(code), got \(error)", sourceLocation: sourceLocation)
    }
}
