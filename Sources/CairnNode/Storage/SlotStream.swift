import CairnCore
import CairnCrypto
import CairnWire
internal import CairnData

/// The bytes that stream behind a `storeSlot` message and a positive `fetchReply`: packs
/// `from..<to` of one slot, one frame each, back to back, nothing before or after:
///
///     geometry (k u8 | n u8 | shard length u64 | segment size u32) | shard root (32) | shard
///
/// Frames need no stream header: the message in front names the packs and the byte count,
/// so a holder keeps each accepted stream as it came and a slot's fetch stream is the
/// concatenation of the streams it accepted. Part of wire version 5 (`ProtocolLimits`).
public enum SlotStream {
    /// Geometry and root in front of every shard.
    public static let frameHeaderBytes = ProtocolLimits.slotStreamFrameHeaderBytes
    /// The longest shard a frame may announce: a pack is at most the engine's largest
    /// (`Limits.packMax`, one maximal chunk past the 16 MiB target) and a shard at most a
    /// pack (k = 1). Checked before a byte of the shard is read.
    public static let shardBytesMax = UInt64(CairnData.Limits.packMax)
    /// Segments one decoder keeps leaf hashes of (32 bytes each, so at most 32 MiB): a
    /// stream of 64 GiB in 64 KiB segments, less with smaller segments.
    public static let segmentsPerStreamMax = 1 << 20

    /// The frame header of a shard: its geometry and root.
    public static func frameHeader(geometry: PackGeometry, root: [UInt8]) -> [UInt8] {
        precondition(root.count == PackGeometry.hashBytes, "a shard root of \(root.count) bytes")
        var w = ByteWriter(capacity: frameHeaderBytes)
        geometry.write(into: &w)
        w.raw(root)
        return w.bytes
    }

    /// Copies the next bytes of one frame — `header`, then `shard` — from offset `at` of the
    /// frame into `out`, until `out` holds `max` bytes or the frame ends; `at` moves past
    /// what was copied. What every slot source's `read(max:)` does between frames.
    static func copyFrame(header: [UInt8], shard: [UInt8], at: inout Int, into out: inout [UInt8], max: Int) {
        if at < header.count {
            let take = min(max - out.count, header.count - at)
            out += header[at..<at + take]
            at += take
        } else {
            let from = at - header.count
            let take = min(max - out.count, shard.count - from)
            out += shard[from..<from + take]
            at += take
        }
    }

    /// The geometry and root of a frame header (`frameHeaderBytes` of them, or fewer when
    /// the stream ended), the shard length bounded by `shardBytesMax`. `pack` and `offset`
    /// name the frame in the error.
    public static func readFrameHeader(_ header: [UInt8], pack: Int, offset: UInt64,
                                       shardBytesMax: UInt64 = shardBytesMax) throws(HeldSlotError)
        -> (geometry: PackGeometry, root: [UInt8])
    {
        guard header.count == frameHeaderBytes else {
            throw HeldSlotError(.truncated, "the slot stream ends inside the header of pack \(pack) (byte \(offset))")
        }
        var r = ByteReader(header, what: "slot stream frame")
        let geometry: PackGeometry
        do {
            geometry = try PackGeometry(reading: &r)
        } catch {
            throw HeldSlotError(.badGeometry, "pack \(pack) of the slot stream (byte \(offset)) has no valid geometry", cause: error)
        }
        guard geometry.shardBytes <= shardBytesMax else {
            throw HeldSlotError(.shardTooLong, "pack \(pack) of the slot stream announces a shard of \(geometry.shardBytes) bytes (at most \(shardBytesMax))")
        }
        return (geometry, Array(header[PackGeometry.encodedBytes...]))
    }

    /// Bytes of the stream over packs of these geometries (what the message announces).
    public static func streamBytes(_ geometries: some Sequence<PackGeometry>) -> UInt64 {
        geometries.reduce(0) { $0 + UInt64(frameHeaderBytes) + $1.shardBytes }
    }

    /// The whole stream of `packs`, in memory (tests, small slots). An owner uploading a
    /// large slot writes `frameHeader` and then the shard for each pack instead.
    public static func encode(_ packs: [SlotStreamPack]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Int(streamBytes(packs.map(\.geometry))))
        for pack in packs {
            out += frameHeader(geometry: pack.geometry, root: pack.root)
            out += pack.shard
        }
        return out
    }
}

/// One pack's shard in a slot stream, with what the frame carries in front of it.
public struct SlotStreamPack: Hashable, Sendable {
    public let geometry: PackGeometry
    public let root: [UInt8]
    public let shard: [UInt8]

    /// A shard with the root computed from it (the owner's side).
    public init(geometry: PackGeometry, shard: [UInt8]) {
        precondition(UInt64(shard.count) == geometry.shardBytes,
                     "a shard of \(shard.count) bytes for \(geometry)")
        self.geometry = geometry
        self.shard = shard
        root = MerkleTree.root(of: shard, segmentSize: Int(geometry.segmentBytes))
    }

    /// A shard with the root it claims (what a stream reader hands back, after checking it).
    public init(geometry: PackGeometry, root: [UInt8], shard: [UInt8]) {
        self.geometry = geometry
        self.root = root
        self.shard = shard
    }

    /// The pack's leaf in its slot's tree.
    public var leaf: [UInt8] { SlotTree.leaf(root: root, geometry: geometry) }
}
