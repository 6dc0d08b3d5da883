@testable import CairnNet
import CairnCore
import NIOCore
import Testing

@Suite struct FrameCodecTests {
    // MARK: records

    @Test func recordsSplitAtTheirLengthsWhateverTheReadSizes() throws {
        var wire = ByteBuffer()
        let records: [[UInt8]] = [[1], Array(repeating: 7, count: 300), Array(repeating: 9, count: TransportLimits.recordBytesMax)]
        for r in records { RecordReader.write(r, to: &wire) }
        let bytes = Array(wire.readableBytesView)
        for step in [1, 2, 3, 1000, 70000] {
            var pending = ByteBuffer()
            var seen: [[UInt8]] = []
            var at = 0
            while at < bytes.count {
                pending.writeBytes(bytes[at..<min(at + step, bytes.count)])
                at += step
                while let record = try RecordReader.next(from: &pending) { seen.append(Array(record.readableBytesView)) }
            }
            #expect(seen == records)
            #expect(pending.readableBytes == 0)
        }
    }

    @Test func aZeroLengthRecordIsRefused() {
        var wire = ByteBuffer(bytes: [0, 0, 5])
        #expect { _ = try RecordReader.next(from: &wire) } throws: { ($0 as? NetError)?.code == .malformed }
    }

    @Test func aRecordIsNotKeptBeforeItsLengthArrived() throws {
        var wire = ByteBuffer(bytes: [0xFF])
        #expect(try RecordReader.next(from: &wire) == nil)
        #expect(wire.readableBytes == 1)
    }

    // MARK: frames

    private func frames(_ plaintext: [UInt8], step: Int, payload: UInt64 = 0, reader: inout FrameReader) throws -> [FrameReader.Frame] {
        var out: [FrameReader.Frame] = []
        var at = 0
        while at < plaintext.count {
            var piece = ByteBuffer(bytes: plaintext[at..<min(at + step, plaintext.count)])
            at += step
            while let frame = try reader.next(from: &piece) {
                out.append(frame)
                if case let .message(bytes) = frame, let (m, _) = try? Message.decode(bytes), m.payloadBytes > 0 {
                    reader.expectPayload(m.payloadBytes)
                }
            }
        }
        return out
    }

    @Test func aMessageAndItsPayloadSurviveAnySplitting() throws {
        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let message = Message.fetchReply(request: 7, slot: SlotID(volume: VolumeID(owner: NodeID(3), number: 1), index: 2), ok: true,
                                         bytes: UInt64(payload.count))
        let encoded = message.encode(sent: Instant(milliseconds: 1_700_000_000_000))
        var plain = ByteBuffer()
        FrameWriter.append(.hello, body: SessionHello(datagramID: 0xDEAD_BEEF, datagramPort: 7400).encoded, to: &plain)
        FrameWriter.append(.message, body: encoded, to: &plain)
        var offset = 0
        while offset < payload.count {
            let n = min(TransportLimits.chunkBytesSent, payload.count - offset)
            FrameWriter.append(.chunk, body: payload[offset..<offset + n], to: &plain)
            offset += n
        }
        FrameWriter.append(.keepalive, body: [UInt8](), to: &plain)
        let bytes = Array(plain.readableBytesView)
        for step in [1, 7, 4096, TransportLimits.recordPlaintextMax] {
            var reader = FrameReader()
            let got = try frames(bytes, step: step, reader: &reader)
            #expect(got.first == .hello(SessionHello(datagramID: 0xDEAD_BEEF, datagramPort: 7400)))
            #expect(got.dropFirst().first == .message(encoded))
            #expect(got.last == .keepalive)
            var received: [UInt8] = []
            var lasts = 0
            for case let .chunk(piece, last) in got {
                received += piece.readableBytesView
                if last { lasts += 1 }
            }
            #expect(received == payload)
            #expect(lasts == 1)
            #expect(reader.payloadRemaining == 0)
        }
    }

    static let overlong: [(UInt8, UInt32)] = [
        (FrameKind.message.rawValue, UInt32(TransportLimits.messageBytesMax + 1)),
        (FrameKind.message.rawValue, UInt32.max),
        (FrameKind.chunk.rawValue, UInt32(TransportLimits.chunkBytesMax + 1)),
        (FrameKind.keepalive.rawValue, 1),
        (FrameKind.hello.rawValue, 12),
        (FrameKind.relay.rawValue, UInt32(4 + TransportLimits.chunkBytesMax + 1)),
        (FrameKind.relayOpen.rawValue, 37),
        (FrameKind.relayClose.rawValue, 5),
    ]

    @Test(arguments: overlong)
    func aFrameLongerThanItsKindAllowsIsRefusedOnItsHeader(kind: UInt8, length: UInt32) {
        var reader = FrameReader()
        var header = ByteBuffer()
        header.writeInteger(kind)
        header.writeInteger(length)
        #expect { _ = try reader.next(from: &header) } throws: { ($0 as? NetError)?.code == .oversized }
    }

    @Test func anUnknownKindIsMalformed() {
        var reader = FrameReader()
        var header = ByteBuffer(bytes: [7, 0, 0, 0, 1, 0])
        #expect { _ = try reader.next(from: &header) } throws: { ($0 as? NetError)?.code == .malformed }
    }

    @Test func aChunkNoMessageAnnouncedIsRefused() {
        var reader = FrameReader()
        var plain = ByteBuffer()
        FrameWriter.append(.chunk, body: [1, 2, 3], to: &plain)
        #expect { _ = try reader.next(from: &plain) } throws: { ($0 as? NetError)?.code == .malformed }
    }

    @Test func aChunkLongerThanThePayloadOwedIsRefused() throws {
        var reader = FrameReader()
        reader.expectPayload(2)
        var plain = ByteBuffer()
        FrameWriter.append(.chunk, body: [1, 2, 3], to: &plain)
        #expect { _ = try reader.next(from: &plain) } throws: { ($0 as? NetError)?.code == .malformed }
    }

    @Test func aHelloOfAnotherVersionIsRefused() {
        var hello = SessionHello(datagramID: 1, datagramPort: 2).encoded
        hello[0] = 9
        #expect { _ = try SessionHello(decoding: hello) } throws: { ($0 as? NetError)?.code == .malformed }
    }
}
