import Foundation

/// Reads and chunks the files of a backup on its own thread, so reading and cutting
/// overlap with hashing, sealing and erasure coding. Hands over batches of about
/// `Limits.batchBytes` through a queue of at most `depth` batches, which bounds memory.
final class ChunkProducer: @unchecked Sendable {
    enum Event {
        /// A chunk of file `entry`: bytes `range` of the batch's `data`.
        case chunk(entry: Int, range: Range<Int>)
        case fileDone(entry: Int, bytesRead: UInt64)
        case fileFailed(entry: Int, reason: String)
    }

    /// The chunks of a batch sit back to back in one buffer (one allocation per batch, and
    /// the hasher can take them all at once).
    struct Batch {
        var events: [Event] = []
        var data: [UInt8] = []
        var bytes: Int { data.count }

        init(capacity: Int) { data.reserveCapacity(capacity) }
    }

    private let files: [(entry: Int, path: String)]
    private let parameters: ChunkerParameters
    private let depth: Int
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var ready: [Batch] = []
    private var finished = false
    private var cancelled = false

    init(files: [(entry: Int, path: String)], parameters: ChunkerParameters, depth: Int = 1) {
        precondition(depth >= 1, "producer depth \(depth)")
        self.files = files
        self.parameters = parameters
        self.depth = depth
    }

    func start() {
        let thread = Thread { [self] in produce() }
        thread.name = "cairn.chunk-reader"
        thread.start()
    }

    /// The next batch, waiting for it; nil once every file has been read.
    func next() -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        while ready.isEmpty && !finished { condition.wait() }
        if ready.isEmpty { return nil }
        let b = ready.removeFirst()
        condition.broadcast()
        return b
    }

    /// Stops the reader after its current chunk (a failed backup must not keep reading).
    func cancel() {
        condition.lock()
        cancelled = true
        ready.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    private func hand(_ batch: Batch) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while ready.count >= depth && !cancelled { condition.wait() }
        if cancelled { return false }
        ready.append(batch)
        condition.broadcast()
        return true
    }

    private func produce() {
        // A batch closes once it reaches batchBytes, so it never holds more than that
        // plus one maximum-size chunk.
        let capacity = Limits.batchBytes + parameters.maxSize
        var batch = Batch(capacity: capacity)
        defer {
            condition.lock()
            if !cancelled, !batch.events.isEmpty { ready.append(batch) }
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        for (entry, path) in files {
            var total: UInt64 = 0
            do {
                var chunker = try FileChunker(path: path, parameters: parameters)
                while let range = try chunker.nextChunk({ (_, bytes) -> Range<Int> in
                    let start = batch.data.count
                    batch.data.append(contentsOf: bytes)
                    return start..<batch.data.count
                }) {
                    total += UInt64(range.count)
                    batch.events.append(.chunk(entry: entry, range: range))
                    if batch.bytes >= Limits.batchBytes {
                        guard hand(batch) else { return }
                        batch = Batch(capacity: capacity)
                    }
                }
                batch.events.append(.fileDone(entry: entry, bytesRead: total))
            } catch let error as ChunkerError {
                batch.events.append(.fileFailed(entry: entry, reason: error.message))
            } catch {
                batch.events.append(.fileFailed(entry: entry, reason: "\(error)"))
            }
        }
    }
}
