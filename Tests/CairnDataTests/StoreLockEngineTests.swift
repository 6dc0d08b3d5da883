import CairnData
import CairnTestSupport
import Foundation
import Testing

/// An open target holds its store lock shared for as long as it is open, whatever its
/// access, and a compaction never replaces the store while one is open.
@Suite struct StoreLockEngineTests {
    /// Whether another open file description could take the lock exclusively now.
    static func exclusiveIsFree(_ folder: String) throws -> Bool {
        let fd = open(folder + "/cairn-store.lock", O_RDWR | O_CLOEXEC)
        try #require(fd >= 0, "no lock file in \(folder)")
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return false }
        _ = flock(fd, LOCK_UN)
        return true
    }

    @Test func anOpenTargetHoldsItsStoreLockUntilItIsReleased() throws {
        let s = try TemporaryFolder("store-lock")
        let path = s.sub("t1")
        var created: LocalTarget? = try LocalTarget(path: path, access: .create)
        #expect(created?.lockWarning == nil)
        #expect(try !Self.exclusiveIsFree(path))
        created = nil
        #expect(try Self.exclusiveIsFree(path))
        for access in [LocalTarget.Access.read, .write] {
            var t: LocalTarget? = try LocalTarget(path: path, access: access)
            #expect(try !Self.exclusiveIsFree(path), "\(access)")
            // Two handles share it.
            let other = try LocalTarget(path: path, access: .read)
            t = nil
            #expect(try !Self.exclusiveIsFree(path), "\(access)")
            withExtendedLifetime(other) {}
            _ = t
        }
        #expect(try Self.exclusiveIsFree(path))
    }

    @Test func aCompactionOwedWaitsForOpenTargetsAndIsDeferred() throws {
        let s = try TemporaryFolder("store-lock")
        let path = s.sub("t1")
        _ = try LocalTarget(path: path, access: .create)
        #expect(FileManager.default.createFile(atPath: path + "/cairn-compact-pending", contents: Data()))
        var reader: LocalTarget? = try LocalTarget(path: path, access: .read)
        let started = Date()
        let outcome = try LocalTarget.compactIfOwed(path: path, wait: 0.3)
        #expect(Date().timeIntervalSince(started) >= 0.3)
        guard case .deferred(let reason) = outcome else {
            Issue.record("compacted although a target was open: \(outcome)")
            return
        }
        #expect(reason.contains(path) && reason.contains("run `cairn prune` again"), "\(reason)")
        #expect(FileManager.default.fileExists(atPath: path + "/cairn-compact-pending"))
        reader = nil
        _ = reader
        #expect(try LocalTarget.compactIfOwed(path: path, wait: 0.3) == .compacted)
        #expect(!FileManager.default.fileExists(atPath: path + "/cairn-compact-pending"))
        #expect(try LocalTarget.compactIfOwed(path: path, wait: 0.3) == .notOwed)
    }

    @Test func aReaderWaitsForACompactionThenGivesUpNamingTheTarget() throws {
        let s = try TemporaryFolder("store-lock")
        let path = s.sub("t1")
        _ = try LocalTarget(path: path, access: .create)
        let fd = open(path + "/cairn-store.lock", O_RDWR | O_CLOEXEC)
        try #require(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        defer { close(fd) }
        let started = Date()
        #expect {
            _ = try LocalTarget(path: path, access: .read, lockWait: 0.2)
        } throws: { error in
            guard let e = error as? DataError, e.code == .busy else { return false }
            return e.message.contains(path) && e.message.contains("being compacted")
        }
        #expect(Date().timeIntervalSince(started) >= 0.2)
        _ = flock(fd, LOCK_UN)
        _ = try LocalTarget(path: path, access: .read, lockWait: 0.2)
    }
}
