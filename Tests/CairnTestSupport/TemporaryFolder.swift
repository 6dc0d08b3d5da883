import Foundation

/// A fresh folder under the system's temporary folder (made by `mkdtemp`: a unique name,
/// then opened to mode 0755 so tests that run a command as another user can reach it),
/// removed with everything in it when the last reference to it goes — at the
/// end of the test that made it, whether the test passed or not.
public final class TemporaryFolder: Sendable {
    public let path: String

    /// `label` goes into the folder's name, so a folder left by a killed run says which
    /// tests made it.
    public init(_ label: String = "test") throws {
        let base = FileManager.default.temporaryDirectory.path
        var template = Array("\(base)/cairn-\(label)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: base, "errno": errno])
        }
        path = String(cString: made)
        _ = chmod(path, 0o755)
    }

    deinit { TemporaryFolder.remove(path) }

    public var url: URL { URL(fileURLWithPath: path, isDirectory: true) }

    /// A path inside the folder (nothing is created).
    public func sub(_ name: String) -> String { path + "/" + name }

    /// Removes `path` and everything below it, without following symbolic links. Folders a
    /// test made unwritable or unreadable are given their owner's rights back first.
    public static func remove(_ path: String) {
        if (try? FileManager.default.removeItem(atPath: path)) != nil { return }
        var stack = [path]
        while let folder = stack.popLast() {
            var st = stat()
            guard lstat(folder, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { continue }
            _ = chmod(folder, st.st_mode & 0o7777 | S_IRWXU)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                stack.append(folder + "/" + name)
            }
        }
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with the path of a fresh temporary folder, removed afterwards.
public func withTemporaryFolder<R>(_ label: String = "test", _ body: (String) throws -> R) throws -> R {
    let folder = try TemporaryFolder(label)
    return try withExtendedLifetime(folder) { try body(folder.path) }
}

/// `withTemporaryFolder` for async tests.
public func withTemporaryFolder<R>(_ label: String = "test", _ body: (String) async throws -> R) async throws -> R {
    let folder = try TemporaryFolder(label)
    let result = try await body(folder.path)
    withExtendedLifetime(folder) {}
    return result
}
