internal import CSodium

/// A BIP-39 recovery phrase in the English list: the one secret an owner writes down, from
/// which every key of theirs is derived (see `OwnerKeys`). Standard BIP-39, so the phrase
/// and seed agree with other implementations and the reference vectors.
public struct Mnemonic: Sendable, Equatable {
    /// The words, lower-case, in order.
    public let words: [String]

    /// The 2048 words of the BIP-39 English list, in order (for completion and checks).
    public static var wordlist: [String] { BIP39EnglishWordlist.words }

    private static let entropyLengths = [16, 20, 24, 28, 32]
    private static let wordCounts = entropyLengths.map { ($0 * 8 + $0 / 4) / 11 }
    private static let bitsPerWord = 11
    /// Word → 11-bit value.
    private static let wordIndex: [String: Int] = Dictionary(
        uniqueKeysWithValues: BIP39EnglishWordlist.words.enumerated().map { ($0.element, $0.offset) })

    /// The words joined by single spaces, the canonical form BIP-39 hashes into the seed.
    public var phrase: String { words.joined(separator: " ") }

    /// The entropy the phrase encodes (its checksum was verified when it was made).
    public var entropy: [UInt8] {
        Self.unpack(words.map { Self.wordIndex[$0]! }).entropy
    }

    /// The phrase for `entropy` (16, 20, 24, 28 or 32 bytes → 12 … 24 words).
    public init(entropy: [UInt8]) throws(MnemonicError) {
        guard Self.entropyLengths.contains(entropy.count) else { throw .invalidEntropyLength(entropy.count) }
        // entropy || first (ENT/32) bits of SHA-256(entropy), read as 11-bit word indices.
        let bits = entropy + [Self.sha256(entropy)[0]]
        let count = (entropy.count * 8 + entropy.count / 4) / Self.bitsPerWord
        words = (0..<count).map { i in
            BIP39EnglishWordlist.words[Self.readBits(bits, at: i * Self.bitsPerWord, count: Self.bitsPerWord)]
        }
    }

    /// Parses a phrase as a person typed it: surrounding space trimmed, words split on any
    /// run of whitespace, case ignored. Checks the word count, each word, then the checksum.
    public init(phrase: String) throws(MnemonicError) {
        let typed = phrase.lowercased().split(whereSeparator: \.isWhitespace).map(String.init)
        guard Self.wordCounts.contains(typed.count) else { throw .wrongWordCount(typed.count) }
        var indices = [Int]()
        indices.reserveCapacity(typed.count)
        for (offset, word) in typed.enumerated() {
            guard let index = Self.wordIndex[word] else {
                throw .unknownWord(position: offset + 1, word: word, suggestions: Self.suggestions(for: word))
            }
            indices.append(index)
        }
        let unpacked = Self.unpack(indices)
        guard unpacked.checksumValid else { throw .checksumMismatch }
        words = typed
    }

    /// The number of words of every phrase Cairn writes (256 bits of entropy).
    public static let recoveryWordCount = 24

    /// Parses an owner's recovery phrase: like `init(phrase:)`, but only 24 words are
    /// accepted. A 12-word phrase passes BIP-39's 4-bit checksum one time in 16 by
    /// chance, so accepting shorter phrases would quietly make a new, empty identity.
    public init(recoveryPhrase phrase: String) throws(MnemonicError) {
        let count = phrase.split(whereSeparator: \.isWhitespace).count
        guard count == Self.recoveryWordCount else { throw .notARecoveryPhrase(wordCount: count) }
        try self.init(phrase: phrase)
    }

    /// A new 24-word phrase from 256 bits of OS randomness.
    public static func generate() -> Mnemonic {
        var entropy = SecureRandom.bytes(32)
        defer { entropy.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) } }
        do {
            return try Mnemonic(entropy: entropy)
        } catch {
            preconditionFailure("32 bytes of entropy were refused: \(error)")
        }
    }

    /// The 64-byte BIP-39 seed: PBKDF2-HMAC-SHA512(phrase, "mnemonic" + passphrase, 2048).
    /// The passphrase is used as its UTF-8 bytes; BIP-39 asks for NFKD first, which only
    /// changes passphrases with composed non-ASCII characters.
    public func seed(passphrase: String = "") -> SecureBytes {
        var password = Array(phrase.utf8)
        var salt = Array("mnemonic".utf8) + Array(passphrase.utf8)
        defer {
            password.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
            salt.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
        }
        return PBKDF2.hmacSHA512(password: password, salt: salt, iterations: 2048, keyLength: 64)
    }

    // MARK: bits

    /// Splits 11-bit word indices into entropy and checksum, and checks the checksum.
    private static func unpack(_ indices: [Int]) -> (entropy: [UInt8], checksumValid: Bool) {
        let totalBits = indices.count * bitsPerWord
        let checksumBits = totalBits / 33
        let entropyBits = totalBits - checksumBits
        var bits = [UInt8](repeating: 0, count: (totalBits + 7) / 8)
        for (i, index) in indices.enumerated() {
            for b in 0..<bitsPerWord where index & (1 << (bitsPerWord - 1 - b)) != 0 {
                let position = i * bitsPerWord + b
                bits[position / 8] |= 0x80 >> UInt8(position % 8)
            }
        }
        let entropy = Array(bits[..<(entropyBits / 8)])
        let stored = readBits(bits, at: entropyBits, count: checksumBits)
        let expected = Int(sha256(entropy)[0]) >> (8 - checksumBits)
        return (entropy, stored == expected)
    }

    /// `count` bits (≤ 16) of `bytes` starting at bit `start`, most significant first.
    private static func readBits(_ bytes: [UInt8], at start: Int, count: Int) -> Int {
        var value = 0
        for position in start..<(start + count) {
            value = value << 1 | Int(bytes[position / 8] >> UInt8(7 - position % 8)) & 1
        }
        return value
    }

    private static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        _ = Sodium.ready
        var digest = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_bytes()))
        let rc = withNonNullBytes(bytes) { input, count in
            digest.withUnsafeMutableBufferPointer { crypto_hash_sha256($0.baseAddress!, input, UInt64(count)) }
        }
        precondition(rc == 0, "crypto_hash_sha256 rc=\(rc)")
        return digest
    }

    // MARK: suggestions

    /// Up to three list words a mistyped `word` was likely meant to be: those sharing its
    /// first four letters (the list is built so four letters identify a word), else the
    /// nearest within edit distance 2.
    private static func suggestions(for word: String) -> [String] {
        let limit = 3, maxDistance = 2
        let typed = Array(word.utf8)
        let prefix = String(decoding: typed.prefix(4), as: UTF8.self)
        let samePrefix = BIP39EnglishWordlist.words.filter { $0.hasPrefix(prefix) }
        let scored = (samePrefix.isEmpty ? BIP39EnglishWordlist.words : samePrefix)
            .map { (word: $0, distance: editDistance(typed, Array($0.utf8))) }
            .filter { !samePrefix.isEmpty || $0.distance <= maxDistance }
        return scored.sorted { ($0.distance, $0.word) < ($1.distance, $1.word) }.prefix(limit).map(\.word)
    }

    /// Levenshtein distance (insert, delete, substitute each cost 1).
    private static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitute)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
