import CairnCore

/// What happens at a simulated instant.
enum EventKind {
    case deliver(from: NodeID, to: NodeID, Message)
    case timer(node: NodeID, kind: TimerKind, epoch: UInt32)
    case churn(node: UInt32, Churn, epoch: UInt32)
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

/// The simulator's agenda: a 4-ary min-heap ordered by (time, insertion sequence), so
/// events due at the same instant run in the order they were scheduled (the order is total,
/// so the arity does not change which event comes next; four children per node halve the
/// depth and the cache misses of a heap of a million entries). The heap holds 24-byte
/// plain entries; payloads live in a slab reused through a free list, so sifting
/// never retains or releases anything.
struct EventQueue {
    private struct Entry {
        var time: Int64
        var seq: UInt64
        var slot: UInt32
    }

    private var heap: [Entry] = []
    private var payloads: [EventKind?] = []
    private var free: [UInt32] = []
    private var nextSeq: UInt64 = 0

    var count: Int { heap.count }

    init() {
        heap.reserveCapacity(1 << 16)
        payloads.reserveCapacity(1 << 16)
    }

    @inline(__always)
    private static func before(_ a: Entry, _ b: Entry) -> Bool {
        a.time < b.time || (a.time == b.time && a.seq < b.seq)
    }

    mutating func push(at time: Int64, _ kind: EventKind) {
        let slot: UInt32
        if let reused = free.popLast() {
            slot = reused
            payloads[Int(slot)] = kind
        } else {
            precondition(payloads.count < Int(UInt32.max), "event slab full")
            slot = UInt32(payloads.count)
            payloads.append(kind)
        }
        let e = Entry(time: time, seq: nextSeq, slot: slot)
        nextSeq += 1
        heap.append(e)
        // Sift up with a hole.
        heap.withUnsafeMutableBufferPointer { heap in
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 4
                guard Self.before(e, heap[parent]) else { break }
                heap[i] = heap[parent]
                i = parent
            }
            heap[i] = e
        }
    }

    mutating func pop() -> Event? {
        guard let last = heap.popLast() else { return nil }
        var top = last
        if !heap.isEmpty {
            top = heap[0]
            // Sift `last` down from the root with a hole.
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
                        if Self.before(heap[c], heap[m]) { m = c }
                        c += 1
                    }
                    guard Self.before(heap[m], last) else { break }
                    heap[i] = heap[m]
                    i = m
                }
                heap[i] = last
            }
        }
        let kind = payloads[Int(top.slot)].take()!
        free.append(top.slot)
        return Event(time: top.time, seq: top.seq, kind: kind)
    }
}
