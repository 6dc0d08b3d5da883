import CairnCrypto
import CairnNet
import Foundation
import Testing

/// The published `25519_ChaChaPoly_BLAKE2b` vectors in Vectors/noise-vectors.json (see
/// Vectors/noise-README.md): keys, prologue, every message on the wire, the final hash.
struct NoiseVectors: Decodable {
    struct Vector: Decodable {
        struct Message: Decodable {
            let payload: String
            let ciphertext: String
        }

        let protocolName: String
        let initPrologue: String
        let initStatic: String?
        let initEphemeral: String
        let initRemoteStatic: String?
        let respPrologue: String
        let respStatic: String?
        let respEphemeral: String
        /// Absent from some published files; checked whenever present.
        let handshakeHash: String?
        let messages: [Message]
    }

    let vectors: [Vector]

    static func load() throws -> NoiseVectors {
        let url = try #require(Bundle.module.url(forResource: "noise-vectors", withExtension: "json", subdirectory: "Vectors"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(NoiseVectors.self, from: Data(contentsOf: url))
    }

    /// Every vector for `pattern`, in file order (a file may carry several for one pattern,
    /// and vectors of protocols cairn does not speak, which are left out here).
    static func vectors(for pattern: NoisePattern) throws -> [Vector] {
        try load().vectors.filter { $0.protocolName == pattern.protocolName }
    }
}

/// Hex from a vector file; a bad digit fails the test rather than trapping.
func hex(_ text: String) throws -> [UInt8] {
    try #require(Hex.decode(text), "'\(text)' is not hex")
}
