import Foundation

/// The n local targets of a repository, by shard index. A target that cannot be opened
/// is `nil` (with the reason kept), so restores and checks can go on with the rest.
public final class TargetSet: @unchecked Sendable {
    public let paths: [String]
    public private(set) var targets: [LocalTarget?]
    public private(set) var problems: [Int: DataError]

    public var n: Int { paths.count }
    public var available: Int { targets.count { $0 != nil } }

    /// Opens every target; with `create`, missing folders are created and any failure is
    /// an error (a backup must reach all n).
    public init(paths: [String], create: Bool) throws(DataError) {
        self.paths = paths
        var targets: [LocalTarget?] = []
        var problems: [Int: DataError] = [:]
        for (i, p) in paths.enumerated() {
            do {
                targets.append(try LocalTarget(path: p, create: create))
            } catch {
                if create { throw DataError(.targetUnavailable, "target \(i + 1) (\(p)) cannot be used", cause: error) }
                targets.append(nil)
                problems[i] = error
            }
        }
        self.targets = targets
        self.problems = problems
    }

    /// Replaces an unusable target by a fresh, empty one at the same path. A damaged store
    /// is moved aside, never deleted, so nothing is lost.
    public func recreate(_ index: Int) throws(DataError) -> LocalTarget {
        let path = paths[index]
        let data = path + "/data.mdb"
        if FileManager.default.fileExists(atPath: data) {
            let aside = path + "/data.mdb.damaged-\(Int(Date().timeIntervalSince1970))"
            do { try FileManager.default.moveItem(atPath: data, toPath: aside) } catch {
                throw DataError(.io, "cannot move the damaged store \(data) aside", cause: error)
            }
            try? FileManager.default.removeItem(atPath: path + "/lock.mdb")
        }
        let t = try LocalTarget(path: path, create: true)
        targets[index] = t
        problems[index] = nil
        return t
    }
}
