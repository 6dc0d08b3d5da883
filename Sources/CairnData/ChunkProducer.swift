import Foundation

/// Reads and chunks the files of a backup on its own thread, so reading and cutting
/// overlap with hashing, sealing and erasure coding. Hands over batches of about
/// `Limits.batchBytes` through a queue of at most `depth` batches, which bounds memory.
final class ChunkProducer: @unchecked Sendable {
    enum Event {
        case chunk(entry: Int, bytes: [UInt8])
        case fileDone(entry: Int, bytesRead: UInt64)
        case fileFailed(entry: Int, reason: String)
    }

    struct Batch {
        var events: [Event] = []
        var bytes = 0
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
        var batch = Batch()
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
                while let chunk = try chunker.next() {
                    total += UInt64(chunk.bytes.count)
                    batch.bytes += chunk.bytes.count
                    batch.events.append(.chunk(entry: entry, bytes: chunk.bytes))
                    if batch.bytes >= Limits.batchBytes {
                        guard hand(batch) else { return }
                        batch = Batch()
                    }
                }
                batch.events.append(.fileDone(entry: entry, bytesRead: total))
            } catch {
                batch.events.append(.fileFailed(entry: entry, reason: error.message))
            }
        }
    }
}
