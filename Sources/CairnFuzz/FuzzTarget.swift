/// One decoder under fuzzing: the name its corpus and crash files go by, valid encodings
/// to start mutating from, tokens worth splicing in, and what one input does.
///
/// A decoder may reject any input (that is its job); it must never trap, and what it
/// accepts must survive a round trip (encode, decode again, same value): a value the
/// decoder lets through but the encoder cannot write back is a bug waiting in `check`.
public struct FuzzTarget: Sendable {
    public let name: String
    /// What it decodes, in a few words (for `cairn-fuzz list`).
    public let summary: String
    /// Valid encodings, current and older versions.
    public let seeds: @Sendable () -> [[UInt8]]
    /// Byte strings the mutator inserts or writes over (magic numbers, JSON tokens).
    public let dictionary: [[UInt8]]
    /// Whether the input is signed or sealed, so that mutated inputs are not expected to
    /// decode (only the framing before the check is reached).
    public let authenticated: Bool
    public let run: @Sendable ([UInt8]) -> FuzzVerdict

    public init(name: String, summary: String, seeds: @escaping @Sendable () -> [[UInt8]], dictionary: [[UInt8]] = [],
                authenticated: Bool = false, run: @escaping @Sendable ([UInt8]) -> FuzzVerdict) {
        self.name = name
        self.summary = summary
        self.seeds = seeds
        self.dictionary = dictionary
        self.authenticated = authenticated
        self.run = run
    }
}

/// What one input did.
public enum FuzzVerdict: Sendable, Equatable {
    /// The decoder refused it with an error, as it should refuse bad bytes.
    case rejected
    /// The decoder accepted it, and the value came back the same through a round trip.
    case decoded
    /// The decoder accepted it but broke a property (the message says which).
    case violation(String)

    /// For a record with one encoding per value (fixed layouts): `decoded` only when the
    /// input accepted is exactly its value's encoding (bytes after the record's end, or
    /// bits the decoder ignores, are a violation), then as `roundTrip`.
    static func canonical<T: Equatable>(_ input: [UInt8], _ value: T, encoded: [UInt8], _ again: () throws -> T) -> FuzzVerdict {
        guard input == encoded else {
            return .violation("accepted \(input.count) bytes that are not its value's encoding (\(encoded.count) bytes): \(value)")
        }
        return roundTrip(value, again)
    }

    /// `decoded` when `again` (the value decoded from its own encoding) equals `first`.
    static func roundTrip<T: Equatable>(_ first: T, _ again: () throws -> T) -> FuzzVerdict {
        do {
            let second = try again()
            return second == first ? .decoded : .violation("decoding its own encoding gives another value: \(first) then \(second)")
        } catch {
            return .violation("its own encoding does not decode: \(error)")
        }
    }
}
