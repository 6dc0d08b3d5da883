/// What every expected failure in Cairn carries, whichever module raised it: a stable code
/// (for scripts, tests and `--json`), a message for a person (what went wrong and what to
/// do), the error that caused it, and where it happened. Module errors (`DataError`,
/// `DecodeError`, `StoreError`, `ScenarioError`, …) conform, so a caller can print a chain
/// of causes or match a code without knowing which layer failed.
public protocol CairnError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable name such as `truncated` or `notInitialized`.
    var codeName: String { get }
    var message: String { get }
    var cause: (any Error)? { get }
    var location: ErrorLocation { get }
}

/// Where an error arose: in our source (for a bug report), at a byte of a decoded
/// structure, or at a path (a JSON path in a scenario, a file on disk).
public enum ErrorLocation: Hashable, Sendable, CustomStringConvertible {
    case unknown
    case source(file: String, line: Int)
    case bytes(what: String, offset: Int)
    case path(String)

    public var description: String {
        switch self {
        case .unknown: "unknown"
        case let .source(file, line): "\(file):\(line)"
        case let .bytes(what, offset): "byte \(offset) of \(what)"
        case let .path(p): p
        }
    }
}

extension CairnError {
    /// The message, then what caused it, then what caused that (at most eight deep).
    public var messageChain: [String] {
        var out = [message]
        var next = cause
        while let c = next, out.count < 9 {
            if let e = c as? any CairnError {
                out.append(e.message)
                next = e.cause
            } else {
                out.append("\(c)")
                next = nil
            }
        }
        return out
    }

    /// The message and, after colons, what caused it, on one line.
    public var oneLine: String { messageChain.joined(separator: ": ") }

    /// The message, then each cause on a line of its own ("  caused by: …").
    public var chainDescription: String { messageChain.joined(separator: "\n  caused by: ") }

    /// Whether this error or any of its causes has `code`.
    public func hasCode(_ code: String) -> Bool {
        var current: (any Error)? = self
        var depth = 0
        while let c = current as? any CairnError, depth < 16 {
            if c.codeName == code { return true }
            current = c.cause
            depth += 1
        }
        return false
    }
}
