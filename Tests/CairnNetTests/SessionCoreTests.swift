@testable import CairnNet
import CairnCore
import CairnCrypto
import NIOCore
import Testing

/// The session protocol without sockets: two `SessionCore`s joined by an in-memory pipe,
/// as a relay would join them.
@Suite struct SessionCoreTests {
    /// One side of the pipe: its core, what it has not yet read, what it got.
    struct Side {
        var core: SessionCore
        var inbox = ByteBuffer()
        var events: [SessionCore.Event] = []
        var opened: SessionHello?
        var peer: NodeCertificate?
        var messages: [Message] = []
    }

    /// Moves bytes between `a` and `b` until neither has anything to say.
    static func pump(_ a: inout Side, _ b: inout Side) throws(NetError) {
        var moved = true
        while moved {
            moved = false
            for (from, to) in [(0, 1), (1, 0)] {
                var sender = from == 0 ? a : b
                var receiver = to == 0 ? a : b
                let out = sender.events
                sender.events = []
                for event in out {
                    switch event {
                    case var .write(bytes):
                        receiver.inbox.writeBuffer(&bytes)
                        moved = true
                    case let .established(peer, _): sender.peer = peer
                    case let .opened(hello): sender.opened = hello
                    case let .message(m, _, _): sender.messages.append(m)
                    default: break
                    }
                }
                while let record = try RecordReader.next(from: &receiver.inbox, max: receiver.core.recordBytesMax) {
                    try receiver.core.receive(record, events: &receiver.events)
                    moved = true
                }
                if from == 0 { (a, b) = (sender, receiver) } else { (b, a) = (sender, receiver) }
            }
        }
    }

    static func pair(knowingTheKey: Bool) throws -> (Side, Side, TestNode, TestNode) {
        let alice = try TestNode()
        let bob = try TestNode()
        var a = Side(core: SessionCore(handshake: try SessionHandshake(initiator: alice.identity,
                                                                      peerNodeKey: knowingTheKey ? bob.nodeKey.publicKey : nil),
                                       hello: SessionHello(datagramID: 1, datagramPort: 10)))
        var b = Side(core: SessionCore(handshake: SessionHandshake(responder: bob.identity), hello: SessionHello(datagramID: 2, datagramPort: 0)))
        try a.core.start(events: &a.events)
        try pump(&a, &b)
        return (a, b, alice, bob)
    }

    static func send(_ message: Message, from side: inout Side) throws {
        var plaintext = ByteBuffer()
        FrameWriter.append(.message, body: message.encode(sent: Instant(milliseconds: 5)), to: &plaintext)
        var out = ByteBuffer()
        try side.core.seal(plaintext, into: &out)
        side.events.append(.write(out))
    }

    @Test(arguments: [false, true])
    func bothSidesOpenWithEachOthersCertificateAndHello(knowingTheKey: Bool) throws {
        let (a, b, alice, bob) = try Self.pair(knowingTheKey: knowingTheKey)
        #expect(a.peer == bob.identity.certificate)
        #expect(b.peer == alice.identity.certificate)
        #expect(a.opened == SessionHello(datagramID: 2, datagramPort: 0))
        #expect(b.opened == SessionHello(datagramID: 1, datagramPort: 10))
    }

    @Test func messagesKeepFlowingAcrossRekeys() throws {
        var (a, b, _, _) = try Self.pair(knowingTheKey: false)
        let count = Int(TransportLimits.rekeyIntervalRecords) * 2 + 5
        for i in 0..<count {
            try Self.send(.heartbeat(used: UInt64(i)), from: &a)
            try Self.send(.heartbeat(used: UInt64(i) + 1_000_000), from: &b)
            try Self.pump(&a, &b)
        }
        #expect(b.messages == (0..<count).map { .heartbeat(used: UInt64($0)) })
        #expect(a.messages == (0..<count).map { .heartbeat(used: UInt64($0) + 1_000_000) })
    }

    @Test func aSkippedRecordFailsTheNextOne() throws {
        var (a, b, _, _) = try Self.pair(knowingTheKey: false)
        try Self.send(.heartbeat(used: 1), from: &a)
        a.events = []  // lost on the way
        try Self.send(.heartbeat(used: 2), from: &a)
        #expect { try Self.pump(&a, &b) } throws: { ($0 as? NetError)?.code == .badCiphertext }
        // And the core stays failed: nothing more is accepted.
        var junk = ByteBuffer(bytes: [0, 1, 0])
        let record = try #require(try RecordReader.next(from: &junk))
        #expect { try b.core.receive(record, events: &b.events) } throws: { ($0 as? NetError)?.code == .malformed }
    }

    @Test func aRecordBeforeItsTurnInTheHandshakeIsRefused() throws {
        let bob = try TestNode()
        var b = SessionCore(handshake: SessionHandshake(responder: bob.identity), hello: SessionHello(datagramID: 2, datagramPort: 0))
        var initiator = SessionCore(handshake: try SessionHandshake(initiator: try TestNode().identity),
                                    hello: SessionHello(datagramID: 1, datagramPort: 0))
        var events: [SessionCore.Event] = []
        try initiator.start(events: &events)
        guard case var .write(first) = events.first else {
            Issue.record("the initiator wrote nothing")
            return
        }
        let record = try #require(try RecordReader.next(from: &first))
        var replies: [SessionCore.Event] = []
        try b.receive(record, events: &replies)
        // The responder's turn to write is done (message 2 out); a second message 1 is out of order.
        #expect { try b.receive(record, events: &replies) } throws: { $0 is NetError }
    }
}
