import CairnCore
import CairnNet
import CairnWire
import Logging
import NIOCore

/// A held-store spool as the transport's `PayloadSink`: the session writes the stream
/// behind a `storeSlot` or a positive `fetchReply` into it, exactly the bytes announced,
/// before it delivers the message (whose `store` or `verify` then reads the spool). A
/// write past the announced bytes, or a disk that fails, drops the session.
public final class HeldPayloadSink: PayloadSink {
    public let spool: SpoolWriter

    init(_ spool: SpoolWriter) { self.spool = spool }

    public func write(_ bytes: ByteBuffer) throws(NetError) {
        let done = bytes.withUnsafeReadableBytes { raw in Result { () throws(HeldSlotError) in try spool.write(raw) } }
        if case .failure(let error) = done { throw Self.netError(error) }
    }

    public func finish() throws(NetError) {
        do throws(HeldSlotError) {
            try spool.finish()
        } catch {
            throw Self.netError(error)
        }
    }

    public func abandon() { spool.abandon() }

    static func netError(_ error: HeldSlotError) -> NetError {
        NetError(error.code == .trailingBytes ? .oversized : .io, "the slot stream could not be spooled", cause: error)
    }
}

/// A held slot's stream as the transport's `PayloadSource`, behind the fetch reply that
/// `serve` answered: read from the slot's run files one chunk at a time.
public final class HeldPayloadSource: PayloadSource {
    public let reader: HeldStreamReader

    public init(_ reader: HeldStreamReader) { self.reader = reader }

    public func read(max: Int) throws(NetError) -> [UInt8] {
        do throws(HeldSlotError) {
            return try reader.next(upTo: max)
        } catch {
            throw NetError(.io, "the held slot stream could not be read", cause: error)
        }
    }
}

extension HeldSlotStore {
    /// Where the payload behind `message` from `peer` goes (`SessionDelegate`'s
    /// `sinkFor`): a `storeSlot`'s into its store spool, a positive `fetchReply`'s into
    /// its fetch spool. Nil for any other message, or a stream past the store's bounds
    /// (the session is then dropped); the reason is logged.
    public func payloadSink(for message: Message, from peer: NodeID) -> HeldPayloadSink? {
        do throws(HeldSlotError) {
            switch message {
            case let .storeSlot(_, slot, from, _, bytes):
                return HeldPayloadSink(try storeSpool(slot: slot, from: from, announced: bytes))
            case let .fetchReply(request, _, true, bytes):
                return HeldPayloadSink(try fetchSpool(request: request, from: peer, announced: bytes))
            default:
                return nil
            }
        } catch {
            logger.info("held.spool.refused", metadata: ["peer": "\(peer)", "code": "\(error.codeName)", "reason": "\(error.oneLine)"])
            return nil
        }
    }

    /// The payload behind the fetch reply `serve` answered with `bytes`: the slot's stream
    /// as it was then.
    public func payloadSource(for slot: SlotID, bytes: UInt64) throws(HeldSlotError) -> HeldPayloadSource {
        HeldPayloadSource(try openSlotStream(slot, bytes: bytes))
    }
}

/// An owner's upload (or a repairer's rebuilt slot) as the transport's `PayloadSource`:
/// packs in memory, framed as they are read (`SlotStream`), never copied into one stream.
public final class SlotStreamPacksSource: PayloadSource {
    private let packs: [SlotStreamPack]
    private var pack = 0
    /// Offset in the current pack's frame.
    private var at = 0
    private var header: [UInt8] = []

    public init(_ packs: [SlotStreamPack]) { self.packs = packs }

    /// The bytes the `storeSlot` message announces.
    public var length: UInt64 { SlotStream.streamBytes(packs.map(\.geometry)) }

    public func read(max: Int) throws(NetError) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(max)
        while out.count < max, pack < packs.count {
            if at == 0 { header = SlotStream.frameHeader(geometry: packs[pack].geometry, root: packs[pack].root) }
            let shard = packs[pack].shard
            SlotStream.copyFrame(header: header, shard: shard, at: &at, into: &out, max: max)
            if at == header.count + shard.count {
                pack += 1
                at = 0
            }
        }
        return out
    }
}
