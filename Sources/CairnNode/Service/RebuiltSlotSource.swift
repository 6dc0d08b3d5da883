import CairnCore
import CairnCrypto
import CairnNet
internal import CairnData
import CairnWire

/// A blind repair's upload: slot `target` of an away owner's volume, rebuilt pack by pack
/// from k verified slot streams of the same volume (the repairer's own held slot, and
/// fetched slots it kept: `NodeService+BlindRepair`) as the transport asks for bytes.
///
/// The repairer cannot read what it rebuilds (shards are ciphertext) and needs not: a
/// shard of a pack is the erasure code applied to the others, header and all, so the
/// rebuilt slot is byte for byte the one the owner would have uploaded, and its target
/// checks it against the slot root the coordinator's order carries, which the owner
/// computed. The root record at the volume's end is the same in every slot and is copied.
/// One pack of each source is in memory at a time; anything that does not fit (streams
/// that end early, packs that disagree) stops the upload with an error, never traps.
final class RebuiltSlotSource: PayloadSource, @unchecked Sendable {
    private let sources: [(index: Int, reader: HeldStreamReader)]
    private let target: Int
    private let packs: UInt32
    private var pack: UInt32 = 0
    private var coder: ErasureCoder?
    private var header: [UInt8] = []
    private var shard: [UInt8] = []
    /// Offset in the current pack's frame (header, then shard).
    private var at = 0

    /// `sources`: k slot streams by slot index, each read from its start (verified when
    /// they were fetched; every shard is checked against its frame's root again as it is
    /// read). `packs`: how many packs the rebuilt slot has.
    init(target: Int, packs: UInt32, sources: [(index: Int, reader: HeldStreamReader)]) {
        self.target = target
        self.packs = packs
        self.sources = sources
    }

    func read(max: Int) throws(NetError) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(max)
        while out.count < max {
            if at == header.count + shard.count {
                guard pack < packs else { break }
                try rebuildNext()
                at = 0
                pack += 1
            }
            SlotStream.copyFrame(header: header, shard: shard, at: &at, into: &out, max: max)
        }
        return out
    }

    /// The next pack of every source, turned into the frame of slot `target`'s pack.
    private func rebuildNext() throws(NetError) {
        var frames: [(index: Int, pack: SlotStreamPack)] = []
        for source in sources {
            let next: SlotStreamPack?
            do { next = try source.reader.nextPack() } catch {
                throw NetError(.io, "pack \(pack) of source slot \(source.index) cannot be read: \(error.oneLine)")
            }
            guard let next else { throw fail("source slot \(source.index) ends before pack \(pack)") }
            frames.append((source.index, next))
        }
        guard let first = frames.first else { throw fail("no source slot") }
        let geometry = first.pack.geometry
        guard frames.allSatisfy({ $0.pack.geometry == geometry }) else {
            throw fail("the source slots' pack \(pack) differ in geometry")
        }
        if RootEnvelope.isEnvelope(Array(first.pack.shard.prefix(ShardHeader.size))) {
            guard frames.allSatisfy({ $0.pack.shard == first.pack.shard }) else {
                throw fail("the source slots' root records at pack \(pack) differ")
            }
            header = SlotStream.frameHeader(geometry: geometry, root: first.pack.root)
            shard = first.pack.shard
            return
        }
        let heads = frames.map { try? ShardHeader(decoding: Array($0.pack.shard.prefix(ShardHeader.size))) }
        guard let h = heads[0], h.k == geometry.k, h.n == geometry.n, target < h.n, frames.count == h.k,
              first.pack.shard.count == h.encodedSize + h.shardLength
        else { throw fail("pack \(pack) of source slot \(first.index) is not a shard of a \(geometry.k)-of-\(geometry.n) Cairn pack") }
        var bodies: [Int: [UInt8]] = [:]
        for (frame, head) in zip(frames, heads) {
            guard let head, head.index == frame.index, head.pack == h.pack, head.repository == h.repository, head.k == h.k,
                  head.n == h.n, head.packLength == h.packLength, head.shardLength == h.shardLength
            else { throw fail("pack \(pack) of source slot \(frame.index) is not shard \(frame.index) of the pack the others are") }
            bodies[frame.index] = Array(frame.pack.shard[h.encodedSize...])
        }
        let rebuilt: [Int: [UInt8]]
        do throws(ErasureCodingError) {
            if coder?.k != h.k || coder?.n != h.n { coder = try ErasureCoder(k: h.k, n: h.n) }
            rebuilt = try coder!.rebuild(shards: bodies, missing: [target])
        } catch {
            throw fail("pack \(pack) cannot be rebuilt: \(error)")
        }
        guard let body = rebuilt[target] else { throw fail("pack \(pack): shard \(target) was not rebuilt") }
        shard = ShardHeader(repository: h.repository, pack: h.pack, index: target, k: h.k, n: h.n, packLength: h.packLength,
                            shardLength: h.shardLength).encode() + body
        header = SlotStream.frameHeader(geometry: geometry, root: MerkleTree.root(of: shard, segmentSize: Int(geometry.segmentBytes)))
    }

    private func fail(_ why: String) -> NetError {
        NetError(.io, "slot \(target) cannot be rebuilt: \(why)")
    }
}
