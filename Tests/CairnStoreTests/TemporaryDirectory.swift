import CairnTestSupport

/// Runs `body` with the path of a store inside a fresh temporary folder (removed
/// afterwards). The store's own folder does not exist yet, so `LMDBEnvironment` has to
/// create it.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    try withTemporaryFolder("store") { try body($0 + "/store") }
}

/// `withTemporaryDirectory` for async tests.
func withTemporaryDirectoryAsync<R>(_ body: (String) async throws -> R) async throws -> R {
    try await withTemporaryFolder("store") { try await body($0 + "/store") }
}

/// Deterministic bytes, so failures reproduce.
func pattern(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}
