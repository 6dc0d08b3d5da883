import CairnCore
import CairnNode
import CairnCrypto
import CairnWire
import Foundation
import Testing

/// A checkpoint reads back only as what it was: the same node's key, this version, bytes
/// that decode, indices that point at what they name. Anything else is a typed error.
@Suite struct CheckpointTests {
    static func owner() throws -> NodeCore {
        var h = Harness(count: 8)
        h.addVolume(1, packs: 3)
        h.addVolume(2, packs: 2)
        h.start()
        return h.nodes[0]
    }

    static func read(_ bytes: [UInt8], signer: DigestSigner = DigestSigner(seed: [0])) throws(CheckpointError) -> NodeCore {
        try CheckpointCodec.decode(NodeCore.self, from: bytes, keys: CheckpointKeys(signer: signer, verifier: DigestSigner()))
    }

    @Test func aPlacedOwnerReadsBackWhole() throws {
        let core = try Self.owner()
        let placed = core.volumes.reduce(0) { $0 + $1.slots.filter { $0.holder != nil }.count }
        #expect(core.volumes.count == 2 && placed == 8 && core.book.owned.count >= placed)
        let bytes = try CheckpointCodec.encode(core)
        let back = try Self.read(bytes)
        #expect(back.volumes == core.volumes)
        #expect(back.book.owned == core.book.owned)
        // A second round trip changes nothing (the bytes may differ: JSON keeps a
        // dictionary in its iteration order).
        let again = try Self.read(try CheckpointCodec.encode(back))
        #expect(again.volumes == core.volumes && again.book.owned == core.book.owned)
    }

    @Test func anotherNodesKeyIsRefused() throws {
        let bytes = try CheckpointCodec.encode(Self.owner())
        #expect(throws: CheckpointError.self) {
            try Self.read(bytes, signer: DigestSigner(seed: [9]))
        }
    }

    @Test func damagedBytesAreRefusedNeverTrapped() throws {
        let bytes = try CheckpointCodec.encode(Self.owner())
        let cuts = [0, 1, bytes.count / 3, bytes.count / 2, bytes.count - 1]
        for cut in cuts {
            #expect(throws: CheckpointError.self) {
                try Self.read(Array(bytes.prefix(cut)))
            }
        }
        #expect(throws: CheckpointError.self) {
            try Self.read(Array("{\"version\": 1, \"state\": 5}".utf8))
        }
    }

    /// Edits one field of the JSON and expects the read to fail with `message` in its chain.
    func refusesEdited(_ edit: (inout [String: Any]) -> Void, saying message: String) throws {
        let bytes = try CheckpointCodec.encode(Self.owner())
        var json = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        edit(&json)
        let edited = try [UInt8](JSONSerialization.data(withJSONObject: json))
        do {
            _ = try Self.read(edited)
            Issue.record("an edited checkpoint was read")
        } catch {
            #expect(error.oneLine.contains(message), "\(error.oneLine)")
        }
    }

    @Test func anotherVersionIsRefused() throws {
        try refusesEdited({ $0["version"] = CheckpointCodec.version + 1 }, saying: "version \(CheckpointCodec.version + 1)")
    }

    @Test func indicesThatPointNowhereAreRefused() throws {
        try refusesEdited({ json in
            var state = json["state"] as! [String: Any]
            var index = state["volumeIndex"] as! [Any]
            index[1] = 7 // the first volume's position
            state["volumeIndex"] = index
            json["state"] = state
        }, saying: "volume index entry")
        try refusesEdited({ json in
            var state = json["state"] as! [String: Any]
            var volumes = state["volumes"] as! [[String: Any]]
            volumes[0]["slots"] = Array((volumes[0]["slots"] as! [Any]).prefix(2))
            state["volumes"] = volumes
            json["state"] = state
        }, saying: "slots for n = 4")
    }

    @Test func theCoordinatorReadsBackWhole() throws {
        var h = Harness(count: 8)
        h.addVolume(1, packs: 3)
        h.start()
        #expect(!h.coordinator.rootRecords.isEmpty && h.coordinator.members.count == 8)
        let bytes = try CheckpointCodec.encode(h.coordinator)
        let back = try CheckpointCodec.decode(CoordinatorCore.self, from: bytes, keys: CheckpointKeys(signer: Harness.coordinatorSigner, verifier: DigestSigner()))
        #expect(back.members == h.coordinator.members)
        #expect(back.rootRecords.count == h.coordinator.rootRecords.count)
        #expect(back.entries.map(\.publicKey) == h.coordinator.entries.map(\.publicKey))
        #expect(throws: CheckpointError.self) {
            try CheckpointCodec.decode(CoordinatorCore.self, from: bytes, keys: CheckpointKeys(signer: DigestSigner(seed: [1]), verifier: DigestSigner()))
        }
    }
}
