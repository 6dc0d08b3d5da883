import CairnCore
import CairnCrypto
internal import CairnData
import CairnWire
import Foundation

/// One pack of a fetched slot stream: its id (nil for a root record) and its frame's
/// shard bytes (shard header and shard), as the owner's node placed it.
struct StreamedPack: Sendable, Equatable {
    var pack: PackID?
    var bytes: UInt64
}

/// A restored volume the node is to take over: its number and the holders the
/// coordinator's record named, slot by slot (`NodeID.coordinator`: none). Kept in the node
/// state (`adopting`) until the node has asked them (`NodeService+Adoption`).
struct AdoptionRecord: Codable, Sendable, Equatable {
    var number: UInt32
    var holders: [UInt32]
}

/// What a restore from the network leaves for the node that runs on the new machine
/// afterwards, so it carries on as the owner: each fetched volume's record (`PlacedVolume`,
/// as the old node kept it: which pack is where) and the holders to ask for their
/// contracts. Nothing here is believed because the coordinator or a holder said it:
///
/// - each volume's pack list is derived as the old node made it (`placeStaged`): the packs
///   its own root record (the volume's last pack, opened with the owner's keys: sealed and
///   signed) names that no earlier volume holds, in that record's order, and the fetched
///   stream must be exactly that, frame lengths included;
/// - the slot roots are not taken from anyone: the node computes them from the staging
///   targets, which the restore completed from k checked shards (`cairn restore` runs the
///   engine's repair), every shard checked against the roots in the owner's root record;
/// - a holder's contract counts only with the owner's signature and the whole slot under
///   that computed root (`NodeCore.adoptRestoredSlot`).
///
/// A volume that fails a check is not adopted (its slots are never challenged or repaired
/// by this node; the restore itself is unaffected), and the numbers of every volume the
/// coordinator listed stay taken (`nextVolume`), so new backups never reuse one.
enum RestoredVolumes {
    struct Derived {
        var volumes: [PlacedVolume] = []
        var adopting: [AdoptionRecord] = []
        /// One past the highest volume number listed (the next backup's at least).
        var nextVolume: UInt32 = 1
        var problems: [String] = []
    }

    /// The volumes to adopt from what the restore fetched: `locations` as the coordinator
    /// gave them, `streams` each volume's first slot that checked, with its root records.
    static func derive(owner: NodeID, keys: OwnerKeys, locations: [VolumeLocation],
                       streams: [VolumeID: (packs: [StreamedPack], envelopes: [[UInt8]])]) -> Derived
    {
        var out = Derived()
        var placed = Set<String>()
        for location in locations.sorted(by: { $0.volume.number < $1.volume.number }) where location.volume.owner == owner {
            let number = location.volume.number
            out.nextVolume = max(out.nextVolume, number == UInt32.max ? number : number + 1)
            guard let stream = streams[location.volume] else {
                out.problems.append("volume \(number): no slot of it was fetched")
                continue
            }
            let ids = stream.packs.compactMap(\.pack)
            defer { placed.formUnion(ids.map(\.hex)) }
            guard let last = stream.packs.last, last.pack == nil, ids.count == stream.packs.count - 1, stream.envelopes.count == 1,
                  UInt64(stream.envelopes[0].count) == last.bytes
            else {
                out.problems.append("volume \(number): its slot does not end with its one root record")
                continue
            }
            let root: RootRecord
            do { root = try RootEnvelope.open(stream.envelopes[0], keys: keys) } catch {
                out.problems.append("volume \(number): its root record does not open with this identity")
                continue
            }
            let expected = root.packs.filter { !placed.contains($0.id.hex) }
            guard expected.map(\.id) == ids, stream.packs.count == Int(location.layout.packs),
                  expected.allSatisfy({ $0.k == location.layout.k && $0.n == location.layout.n }),
                  zip(expected, stream.packs).allSatisfy({ UInt64(ShardHeader.size + $0.shardLength) == $1.bytes })
            else {
                out.problems.append("volume \(number): its packs are not what its own root record adds to the volumes before it")
                continue
            }
            out.volumes.append(PlacedVolume(number: number, packs: ids.map(\.hex), shardBytes: stream.packs.map(\.bytes),
                                            rootEnvelope: stream.envelopes[0], k: location.layout.k, n: location.layout.n,
                                            sequence: root.sequence))
            out.adopting.append(AdoptionRecord(number: number, holders: location.holders.map(\.raw)))
        }
        return out
    }

    /// Writes the derived volumes into the node state of `dataDirectory` in one
    /// transaction (over what an earlier restore there recorded), unless a node already
    /// ran there (its own records win).
    static func record(_ derived: Derived, dataDirectory: String) throws(NodeError) -> Bool {
        let state = try ServiceState(path: dataDirectory + "/node/state")
        guard try state.get("checkpoint") == nil else { return false }
        var pairs: [(String, [UInt8])] = []
        do {
            for volume in derived.volumes { pairs.append((volume.stateKey, Array(try JSONEncoder().encode(volume)))) }
            pairs.append(("volumes", Array(try JSONEncoder().encode(derived.volumes.map(\.number)))))
            pairs.append(("adopting", Array(try JSONEncoder().encode(derived.adopting))))
            pairs.append(("nextVolume", Array(try JSONEncoder().encode(derived.nextVolume))))
        } catch {
            throw NodeError(.storage, "the restored volumes could not be recorded", cause: error)
        }
        try state.put(pairs)
        return true
    }
}
