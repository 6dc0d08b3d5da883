import CairnWire
/// A hash map that keeps each key beside its value in one array (open addressing, linear
/// probing, at most three quarters full), with its size in the struct itself. A lookup
/// reads the slot it lands on — usually one cache line — where `Dictionary` reads its
/// header, an occupancy bitmap, the key and the value from four places; for the holder's
/// index of held volumes, consulted on every challenge, those misses were the largest cost
/// of the simulator's event loop.
///
/// Keys hash with Swift's seeded `Hasher`, as in `Dictionary`, so crafted keys cannot force
/// long probe sequences; and as with `Dictionary`, the order of entries is never exposed.
struct DenseMap<Key: Hashable, Value> {
    private typealias Slot = (key: Key, value: Value)?

    /// A power of two long, or empty.
    private var slots: [Slot] = []
    /// `slots.count - 1`, kept here so that a lookup does not read the array's header.
    private var mask = 0
    private(set) var count = 0

    init() {}

    var isEmpty: Bool { count == 0 }

    subscript(key: Key) -> Value? {
        get {
            guard let i = find(key) else { return nil }
            return slots.withUnsafeBufferPointer { $0[i]!.value }
        }
        set {
            if let newValue {
                insert(key, newValue)
            } else {
                remove(key)
            }
        }
    }

    /// Updates the value for `key` in place, if present.
    mutating func update(_ key: Key, _ body: (inout Value) -> Void) {
        guard let i = find(key) else { return }
        slots.withUnsafeMutableBufferPointer { slots in
            var entry = slots[i].take()!
            body(&entry.value)
            slots[i] = entry
        }
    }

    mutating func removeAll() {
        slots = []
        mask = 0
        count = 0
    }

    /// The slot holding `key`.
    private func find(_ key: Key) -> Int? {
        guard count > 0 else { return nil }
        let mask = mask
        return slots.withUnsafeBufferPointer { slots in
            var i = key.hashValue & mask
            while let entry = slots[i] {
                if entry.key == key { return i }
                i = (i + 1) & mask
            }
            return nil
        }
    }

    private mutating func insert(_ key: Key, _ value: Value) {
        if let i = find(key) {
            slots[i] = (key, value)
            return
        }
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let mask = mask
        slots.withUnsafeMutableBufferPointer { slots in
            var i = key.hashValue & mask
            while slots[i] != nil { i = (i + 1) & mask }
            slots[i] = (key, value)
        }
        count += 1
    }

    /// Removes `key`, shifting later entries of its probe run back so that no tombstones
    /// are left (Knuth's algorithm R).
    private mutating func remove(_ key: Key) {
        guard var hole = find(key) else { return }
        let mask = mask
        slots.withUnsafeMutableBufferPointer { slots in
            slots[hole] = nil
            var i = (hole + 1) & mask
            while let entry = slots[i] {
                let home = entry.key.hashValue & mask
                // The entry may fill the hole unless its home lies cyclically in (hole, i].
                let stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i)
                if !stays {
                    slots[hole] = slots[i].take()
                    hole = i
                }
                i = (i + 1) & mask
            }
        }
        count -= 1
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: nil, count: max(8, old.count * 2))
        mask = slots.count - 1
        count = 0
        for case let (key, value)? in old {
            insert(key, value)
        }
    }
}

extension DenseMap: Sendable where Key: Sendable, Value: Sendable {}


/// A checkpoint writes the entries in key order, so the same map always encodes to the
/// same bytes (the slot order depends on the process's hash seed).
extension DenseMap: Codable where Key: Codable & Comparable, Value: Codable {
    private struct Entry: Codable {
        var key: Key
        var value: Value
    }

    init(from decoder: any Decoder) throws {
        self.init()
        var container = try decoder.unkeyedContainer()
        while !container.isAtEnd {
            let entry = try container.decode(Entry.self)
            guard self[entry.key] == nil else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "key \(entry.key) twice")
            }
            self[entry.key] = entry.value
        }
    }

    func encode(to encoder: any Encoder) throws {
        var entries = [Entry]()
        entries.reserveCapacity(count)
        for case let slot? in slots { entries.append(Entry(key: slot.key, value: slot.value)) }
        entries.sort { $0.key < $1.key }
        var container = encoder.unkeyedContainer()
        try container.encode(contentsOf: entries)
    }
}
