import ArgumentParser
import CairnData

/// `cairn debug chunk FILE`: prints the FastCDC chunk boundaries of a file, one
/// `offset length` line per chunk, to check how an edit moves boundaries or to compare
/// with another FastCDC-2020 implementation.
struct DebugChunk: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chunk",
        abstract: "Print the content-defined chunk boundaries of a file, one 'offset length' line per chunk.")

    @Argument(help: "The file to chunk.")
    var file: String

    @Option(help: "Smallest chunk (bytes, or with a K/M/G suffix; 1K = 1024).")
    var minSize = ByteSize(bytes: ChunkerParameters.default.minSize)

    @Option(help: "Average chunk size, a power of two.")
    var avgSize = ByteSize(bytes: ChunkerParameters.default.avgSize)

    @Option(help: "Largest chunk.")
    var maxSize = ByteSize(bytes: ChunkerParameters.default.maxSize)

    @Option(help: "Normalization level 0-3: higher keeps chunk sizes closer to the average.")
    var normalization = ChunkerParameters.default.normalization

    func validate() throws {
        _ = try parameters()
    }

    private func parameters() throws -> ChunkerParameters {
        do {
            return try ChunkerParameters(
                minSize: minSize.bytes, avgSize: avgSize.bytes, maxSize: maxSize.bytes, normalization: normalization)
        } catch {
            throw ValidationError(error.message)
        }
    }

    func run() throws {
        var chunker = try FileChunker(path: file, parameters: try parameters())
        var lines = ""
        while let line = try chunker.nextChunk({ offset, bytes in "\(offset) \(bytes.count)\n" }) {
            lines += line
            if lines.utf8.count >= 1 << 16 {
                print(lines, terminator: "")
                lines = ""
            }
        }
        print(lines, terminator: "")
    }
}
