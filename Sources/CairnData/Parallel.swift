import Dispatch

/// Runs `body` over `count` indexes on all cores and collects the results in order.
/// The data path's parallel stages (hash, seal, erasure, Merkle) go through here, so
/// there is one place that decides how work spreads over the cores.
func parallelMap<R>(_ count: Int, _ body: (Int) -> R) -> [R] {
    if count == 0 { return [] }
    if count == 1 { return [body(0)] }
    let results = UnsafeMutableBufferPointer<R?>.allocate(capacity: count)
    results.initialize(repeating: nil)
    defer {
        results.deinitialize()
        results.deallocate()
    }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedBox((body, results))
        DispatchQueue.concurrentPerform(iterations: count) { i in
            let (f, out) = box.value
            out[i] = f(i)
        }
    }
    var out: [R] = []
    out.reserveCapacity(count)
    for r in results { out.append(r!) }
    return out
}

/// Carries a value across a concurrency boundary that the caller has made safe by
/// construction (disjoint indexes, a join before use).
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
