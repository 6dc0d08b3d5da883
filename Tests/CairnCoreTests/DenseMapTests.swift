import CairnWire
@testable import CairnCore
import Testing

/// A key whose hash has only a few values, so that probe runs are long, wrap around the
/// end of the table and interleave (what backward-shift deletion must get right).
private struct Crowded: Hashable {
    var raw: UInt64
    func hash(into h: inout Hasher) { h.combine(raw % 5) }
}

/// Random inserts, updates and removals agree with `Dictionary` at every step.
private func agreesWithDictionary<Key: Hashable>(_ key: (UInt64) -> Key, keys: UInt64, steps: Int, seed: UInt64) {
    var rng = Xoshiro256(seed: seed)
    var map = DenseMap<Key, Int>()
    var reference = [Key: Int]()
    for step in 0..<steps {
        let k = key(rng.bounded(keys))
        switch rng.bounded(4) {
        case 0, 1:
            map[k] = step
            reference[k] = step
        case 2:
            map[k] = nil
            reference[k] = nil
        default:
            map.update(k) { $0 += 1 }
            if reference[k] != nil { reference[k]! += 1 }
        }
        #expect(map.count == reference.count)
        let probe = key(rng.bounded(keys))
        #expect(map[probe] == reference[probe], "step \(step)")
    }
    for raw in 0..<keys {
        #expect(map[key(raw)] == reference[key(raw)])
    }
}

@Test func denseMapAgreesWithDictionary() {
    agreesWithDictionary({ VolumeID($0) }, keys: 300, steps: 20_000, seed: 1)
}

@Test func denseMapAgreesWithDictionaryUnderCollisions() {
    agreesWithDictionary({ Crowded(raw: $0) }, keys: 60, steps: 20_000, seed: 2)
}

@Test func denseMapEmptiesAndRefills() {
    var map = DenseMap<VolumeID, UInt8>()
    #expect(map.isEmpty && map[VolumeID(1)] == nil)
    for i in 0..<100 { map[VolumeID(UInt64(i))] = UInt8(i) }
    #expect(map.count == 100 && map[VolumeID(42)] == 42)
    map.removeAll()
    #expect(map.isEmpty && map[VolumeID(42)] == nil)
    map[VolumeID(7)] = 7
    #expect(map.count == 1 && map[VolumeID(7)] == 7)
}
