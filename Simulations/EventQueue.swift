import CairnWire
import CairnCore

/// What happens at a simulated instant.
enum EventKind {
    /// `sent`: the sender's clock when the message left it.
    case deliver(from: NodeID, to: NodeID, sent: Int64, Message)
    case timer(node: NodeID, kind: TimerKind, epoch: UInt32)
    case churn(node: UInt32, Churn, epoch: UInt32)
    /// The slot stream behind fetch reply `request` has fully reached restorer `restorer`
    /// (its header came at the first byte): the restore counts it now.
    case streamEnd(restorer: NodeID, request: UInt64)
    case world(World)

    enum Churn: UInt8 { case goOnline = 1, goOffline, depart, diskFail }
    enum World: Equatable {
        case correlated(Int)
        case partitionStart(Int)
        case partitionEnd(Int)
        case converge
        case sample
        case check
    }
}

struct Event {
    var time: Int64
    var seq: UInt64
    var kind: EventKind
}

/// The simulator's agenda, ordered by (time, insertion sequence), so events due at the same
/// instant run in the order they were scheduled.
///
/// Two 4-ary min-heaps share that order: `near` holds events due within `nearWindow` of
/// the current time (message deliveries, nearly all events), `far` the rest (timers and
/// churn, hours or days ahead). `pop` takes the earlier of the two tops, so the sequence of
/// events is exactly that of a single heap; but the heap most events pass through stays
/// small and in cache, and the far one is only touched by far events. (Four children per
/// node halve the depth of a binary heap; the order is total, so the arity does not
/// change which event comes next.) Heap entries are 16 bytes of plain data; payloads live
/// in a slab reused through a free list, so sifting never retains or releases anything.
struct EventQueue {
    /// Events due sooner than this after the current time go to `near`.
    static let nearWindow: Int64 = 60_000

    private var near = EntryHeap()
    private var far = EntryHeap()
    private var payloads: [EventKind?] = []
    private var free: [UInt32] = []
    private var nextSeq: UInt64 = 0
    /// Time of the last event popped.
    private var current: Int64 = 0

    var count: Int { near.count + far.count }

    /// Most events that can ever be pending at once (the payload slot's bits).
    static var pendingCapacity: Int { Int(Entry.slotMask) + 1 }

    /// Most events this queue lets be pending at once.
    let pendingMax: Int

    /// Set when a push found `pendingMax` events pending and dropped its event: the
    /// simulation can no longer be trusted and stops (a scenario that schedules events
    /// faster than they come due, not a state the node core can reach on its own).
    private(set) var overflowed = false

    init(pendingMax: Int = EventQueue.pendingCapacity) {
        precondition((1...Self.pendingCapacity).contains(pendingMax), "pendingMax \(pendingMax) beyond 1...\(Self.pendingCapacity)")
        self.pendingMax = pendingMax
        payloads.reserveCapacity(1 << 16)
    }

    mutating func push(at time: Int64, _ kind: EventKind) {
        let slot: UInt32
        if let reused = free.popLast() {
            slot = reused
            payloads[Int(slot)] = kind
        } else {
            guard payloads.count < pendingMax else {
                // Full: the event is dropped and the run must stop (`overflowed`).
                overflowed = true
                return
            }
            slot = UInt32(payloads.count)
            payloads.append(kind)
        }
        let e = Entry(time: time, seq: nextSeq, slot: slot)
        nextSeq += 1
        if time - current < Self.nearWindow {
            near.push(e)
        } else {
            far.push(e)
        }
    }

    /// Takes the next insertion sequence for an event kept outside the queue (the
    /// simulation's heartbeat lane), so that it orders against queued events exactly as if
    /// it had been pushed now.
    mutating func reserveSeq() -> UInt64 {
        defer { nextSeq += 1 }
        return nextSeq
    }

    /// Whether an event due at `time` with sequence `seq` comes before every queued event.
    func precedesAll(time: Int64, seq: UInt64) -> Bool {
        func before(_ e: Entry?) -> Bool {
            guard let e else { return true }
            return time < e.time || (time == e.time && seq < e.seq)
        }
        return before(near.top) && before(far.top)
    }

    mutating func pop() -> Event? {
        let top: Entry
        switch (near.top, far.top) {
        case (nil, nil): return nil
        case (.some, nil): top = near.pop()
        case (nil, .some): top = far.pop()
        case let (n?, f?): top = n.before(f) ? near.pop() : far.pop()
        }
        current = top.time
        let kind = payloads[top.slot].take()!
        free.append(UInt32(top.slot))
        return Event(time: top.time, seq: top.seq, kind: kind)
    }
}

/// A heap entry: the time, and the insertion sequence and payload slot packed in one word
/// (sequence above, slot below), so that comparing the words compares the sequences (which
/// are unique) and an entry is two words instead of three.
private struct Entry {
    static let slotBits = 26
    static let slotMask: UInt64 = 1 << slotBits - 1

    var time: Int64
    var order: UInt64

    init(time: Int64, seq: UInt64, slot: UInt32) {
        precondition(seq < 1 << (64 - Self.slotBits), "event sequence exhausted")
        self.time = time
        order = seq << Self.slotBits | UInt64(slot)
    }

    var seq: UInt64 { order >> Self.slotBits }
    var slot: Int { Int(order & Self.slotMask) }

    @inline(__always)
    func before(_ b: Entry) -> Bool {
        time < b.time || (time == b.time && order < b.order)
    }
}

/// A 4-ary min-heap of entries, sifted through one unsafe buffer (no uniqueness check per
/// move) with a hole instead of swaps.
private struct EntryHeap {
    private var heap: [Entry] = []

    init() { heap.reserveCapacity(1 << 14) }

    var count: Int { heap.count }
    var top: Entry? { heap.first }

    mutating func push(_ e: Entry) {
        heap.append(e)
        heap.withUnsafeMutableBufferPointer { heap in
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 4
                guard e.before(heap[parent]) else { break }
                heap[i] = heap[parent]
                i = parent
            }
            heap[i] = e
        }
    }

    /// Removes and returns the least entry; the heap must not be empty.
    mutating func pop() -> Entry {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        // Sift `last` down from the root.
        heap.withUnsafeMutableBufferPointer { heap in
            let n = heap.count
            var i = 0
            while true {
                let first = 4 * i + 1
                if first >= n { break }
                var m = first
                var c = first + 1
                let stop = min(first + 4, n)
                while c < stop {
                    if heap[c].before(heap[m]) { m = c }
                    c += 1
                }
                guard heap[m].before(last) else { break }
                heap[i] = heap[m]
                i = m
            }
            heap[i] = last
        }
        return top
    }
}
