import CairnCore
import CairnCrypto
import CairnData
@testable import CairnNode
import CairnWire
import Foundation
import Testing

/// What a restore records for the node to adopt is derived from the owner's own sealed
/// root records, as the old node made its volumes: a stream (from a holder) or a location
/// (from the coordinator) that does not match is not adopted, and every listed number
/// stays taken.
@Suite struct RestoredVolumesTests {
    let keys = OwnerKeys(seed: Mnemonic.generate().seed())
    let me = NodeID(4)
    static let shardLength = 1000

    func pack(_ serial: UInt64) -> PackRecord {
        PackRecord(id: PackID(serial: serial), k: 2, n: 3, packLength: 2 * Self.shardLength, shardLength: Self.shardLength,
                   segmentSize: 500, roots: Array(repeating: Array(repeating: UInt8(serial), count: 32), count: 3))
    }

    func envelope(_ sequence: UInt64, packs: [PackRecord], keys: OwnerKeys? = nil) -> [UInt8] {
        RootEnvelope.seal(RootRecord(sequence: sequence, chunker: ChunkerSettings(minSize: 1, avgSize: 2, maxSize: 4, normalization: 1),
                                     snapshots: [], packs: packs), keys: keys ?? self.keys)
    }

    func location(_ number: UInt32, packs: Int) -> VolumeLocation {
        VolumeLocation(volume: VolumeID(owner: me, number: number), layout: VolumeLayout(k: 2, n: 3, packs: UInt32(packs), slotBytes: 1),
                       holders: [NodeID(7), NodeID(8), .coordinator], stored: [UInt32(packs), UInt32(packs), 0],
                       roots: Array(repeating: Array(repeating: 0, count: 32), count: 3))
    }

    func stream(_ packs: [PackRecord], envelope: [UInt8]) -> (packs: [StreamedPack], envelopes: [[UInt8]]) {
        (packs.map { StreamedPack(pack: $0.id, bytes: UInt64(ShardHeader.size + $0.shardLength)) }
            + [StreamedPack(pack: nil, bytes: UInt64(envelope.count))], [envelope])
    }

    /// Two backups: volume 1 holds packs 1 and 2, volume 2 only what the second root
    /// record adds (pack 3), each ending with its own root record.
    @Test func volumesAreDerivedFromTheirOwnRootRecords() {
        let first = envelope(1, packs: [pack(1), pack(2)])
        let second = envelope(2, packs: [pack(1), pack(2), pack(3)])
        let derived = RestoredVolumes.derive(
            owner: me, keys: keys, locations: [location(2, packs: 2), location(1, packs: 3)],
            streams: [VolumeID(owner: me, number: 1): stream([pack(1), pack(2)], envelope: first),
                      VolumeID(owner: me, number: 2): stream([pack(3)], envelope: second)])
        #expect(derived.problems.isEmpty, "\(derived.problems)")
        #expect(derived.volumes.map(\.number) == [1, 2] && derived.volumes.map(\.packs) == [[pack(1).id.hex, pack(2).id.hex], [pack(3).id.hex]])
        #expect(derived.volumes.map(\.sequence) == [1, 2] && derived.nextVolume == 3)
        #expect(derived.adopting == [AdoptionRecord(number: 1, holders: [7, 8, NodeID.coordinator.raw]),
                                     AdoptionRecord(number: 2, holders: [7, 8, NodeID.coordinator.raw])])
    }

    @Test func aStreamOrLocationThatDoesNotMatchTheOwnersRecordsIsNotAdopted() {
        let first = envelope(1, packs: [pack(1), pack(2)])
        let v1 = VolumeID(owner: me, number: 1)
        let cases: [(String, (packs: [StreamedPack], envelopes: [[UInt8]]), VolumeLocation)] = [
            ("packs reordered", stream([pack(2), pack(1)], envelope: first), location(1, packs: 3)),
            ("a pack the record does not name", stream([pack(1), pack(9)], envelope: first), location(1, packs: 3)),
            ("a pack left out", stream([pack(1)], envelope: first), location(1, packs: 2)),
            ("another identity's root record", stream([pack(1), pack(2)], envelope: envelope(1, packs: [pack(1), pack(2)],
                                                                                          keys: OwnerKeys(seed: Mnemonic.generate().seed()))),
             location(1, packs: 3)),
            ("a frame of the wrong length", ([StreamedPack(pack: pack(1).id, bytes: 5), StreamedPack(pack: pack(2).id, bytes: UInt64(ShardHeader.size + Self.shardLength)),
                                              StreamedPack(pack: nil, bytes: UInt64(first.count))], [first]), location(1, packs: 3)),
            ("no root record at the end", ([StreamedPack(pack: pack(1).id, bytes: UInt64(ShardHeader.size + Self.shardLength))], []),
             location(1, packs: 1)),
            ("the coordinator's pack count", stream([pack(1), pack(2)], envelope: first), location(1, packs: 4)),
        ]
        for (what, s, l) in cases {
            let derived = RestoredVolumes.derive(owner: me, keys: keys, locations: [l], streams: [v1: s])
            #expect(derived.volumes.isEmpty && derived.adopting.isEmpty && derived.problems.count == 1, "\(what): \(derived.problems)")
            #expect(derived.nextVolume == 2, "\(what): the number stays taken")
        }
        // Another owner's volume in the coordinator's answer is not even looked at.
        let foreign = VolumeLocation(volume: VolumeID(owner: NodeID(5), number: 1), layout: VolumeLayout(k: 2, n: 3, packs: 3, slotBytes: 1),
                                     holders: [NodeID(7), NodeID(8), NodeID(9)], stored: [3, 3, 3],
                                     roots: Array(repeating: Array(repeating: 0, count: 32), count: 3))
        let derived = RestoredVolumes.derive(owner: me, keys: keys, locations: [foreign],
                                             streams: [foreign.volume: stream([pack(1), pack(2)], envelope: first)])
        #expect(derived.volumes.isEmpty && derived.problems.isEmpty && derived.nextVolume == 1)
    }
}
