import ArgumentParser

/// A byte count typed on the command line: plain bytes (`1048576`) or with a binary
/// suffix, `K`, `M`, `G` (optionally followed by `iB` or `B`; 1K = 1024), so people can
/// write chunk and pack sizes the way they think of them.
struct ByteSize: ExpressibleByArgument, Equatable, Sendable, CustomStringConvertible {
    let bytes: Int

    init(bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        var text = Substring(argument)
        var shift = 0
        for suffix in ["KiB", "MiB", "GiB", "KB", "MB", "GB", "K", "M", "G"]
        where text.uppercased().hasSuffix(suffix.uppercased()) {
            shift = ["K": 10, "M": 20, "G": 30][String(suffix.prefix(1))]!
            text = text.dropLast(suffix.count)
            break
        }
        if shift == 0, text.uppercased().hasSuffix("B") { text = text.dropLast() }
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(text),
              value <= Int.max >> shift else { return nil }
        bytes = value << shift
    }

    var description: String {
        for (shift, suffix) in [(30, "G"), (20, "M"), (10, "K")] where bytes > 0 && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(suffix)"
        }
        return "\(bytes)"
    }

    var defaultValueDescription: String { description }
}
