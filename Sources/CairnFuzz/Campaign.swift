import CairnCore

/// A seeded mutation loop over one target: start from its seeds and the inputs given
/// (a corpus, kept regressions), mutate, run, and keep inputs the decoder accepted as
/// further starting points (so mutations reach past the first checks without coverage
/// feedback). Deterministic for a seed: a crash reproduces by running the same seed again.
public struct Campaign {
    public let target: FuzzTarget
    public let seed: UInt64
    private var pool: [[UInt8]]
    private var mutator: Mutator
    private var rng: Xoshiro256
    /// The input about to run, for whoever reports a crash (`cairn-fuzz` saves it from its
    /// signal handler).
    public private(set) var current: [UInt8] = []

    public struct Figures: Sendable {
        public var runs = 0
        public var decoded = 0
        public var violations: [(input: [UInt8], message: String)] = []
    }

    public private(set) var figures = Figures()
    static let poolMax = 512

    public init(target: FuzzTarget, seed: UInt64, inputs: [[UInt8]] = []) {
        self.target = target
        self.seed = seed
        pool = target.seeds() + inputs
        if pool.isEmpty { pool = [[]] }
        mutator = Mutator(seed: seed, dictionary: target.dictionary)
        rng = Xoshiro256(seed: seed ^ 0x5EED_F00D)
    }

    /// Runs every starting input as it is, once.
    public mutating func runStartingInputs(_ willRun: ([UInt8]) -> Void = { _ in }) {
        for input in pool { run(input, willRun) }
    }

    /// One mutated input.
    public mutating func step(_ willRun: ([UInt8]) -> Void = { _ in }) {
        let base = pool[rng.index(pool.count)]
        let other = pool[rng.index(pool.count)]
        let input = mutator.mutate(base, other: other)
        if run(input, willRun) == .decoded {
            if pool.count < Self.poolMax { pool.append(input) } else { pool[rng.index(pool.count)] = input }
        }
    }

    @discardableResult
    private mutating func run(_ input: [UInt8], _ willRun: ([UInt8]) -> Void) -> FuzzVerdict {
        current = input
        willRun(input)
        let verdict = target.run(input)
        figures.runs += 1
        switch verdict {
        case .rejected: break
        case .decoded: figures.decoded += 1
        case .violation(let message): figures.violations.append((input, message))
        }
        return verdict
    }
}
