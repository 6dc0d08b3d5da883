import ArgumentParser
import CairnData
import Foundation

/// `cairn node run --config FILE`: the node's settings in a JSON file, so a service manager
/// starts it with one argument. Every key is optional and a command-line option wins over
/// the file:
///
///     {"coordinator": "HOST:PORT", "offer": "10G", "listen": "0.0.0.0:7401", "k": 3, "n": 5,
///      "notify": "mailto:me@example.org",
///      "backup": {"paths": ["/home/me"], "every_minutes": 360, "exclude": ["*.tmp"]}}
///
/// or the same as TOML (a file named `*.toml`):
///
///     coordinator = "HOST:PORT"
///     offer = "10G"
///     [backup]
///     paths = ["/home/me"]
///     every_minutes = 360
///
/// Unknown keys and values of the wrong kind are refused with their path, so a typo never
/// silently leaves a setting at its default.
struct NodeConfig: Equatable {
    var coordinator: String?
    var offer: ByteSize?
    var listen: String?
    var notify: String?
    var k: Int?
    var n: Int?
    var backupPaths: [String]?
    var backupEveryMinutes: Int?
    var backupExcludes: [String] = []

    static let keys: Set<String> = ["coordinator", "offer", "listen", "notify", "k", "n", "backup"]

    /// A contact the coordinator can pass on: 1 to 255 bytes of printable ASCII without
    /// spaces (a URL, `mailto:`, an address), or the reason it is not one.
    static func contactProblem(_ contact: String) -> String? {
        let bytes = Array(contact.utf8)
        guard (1...255).contains(bytes.count) else { return "must be 1 to 255 characters" }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            return "must be printable ASCII without spaces (a URL or an address such as mailto:me@example.org)"
        }
        return nil
    }
    static let backupKeys: Set<String> = ["paths", "every_minutes", "exclude"]

    static func load(_ path: String) throws -> NodeConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read the config file \(path)")
        }
        guard data.count <= 1 << 20 else { throw ValidationError("the config file \(path) is over 1 MiB: is it the right file?") }
        return try parse(data, name: path)
    }

    /// A file whose name ends in `.toml` is TOML (`TOMLSubset`), any other JSON.
    static func parse(_ data: Data, name: String) throws -> NodeConfig {
        let toml = name.lowercased().hasSuffix(".toml")
        let top: [String: Any]
        if toml {
            do { top = try TOMLSubset.parse(data) } catch {
                throw ValidationError("\(name) is not a cairn TOML config: \(error)")
            }
        } else {
            let object: Any
            do { object = try JSONSerialization.jsonObject(with: data) } catch {
                throw ValidationError("\(name) is not JSON: \(error.localizedDescription)")
            }
            guard let dict = object as? [String: Any] else { throw ValidationError("\(name): the settings must be a JSON object") }
            top = dict
        }
        func fail(_ key: String, _ what: String) -> ValidationError { ValidationError("\(name): \(toml ? "" : "$.")\(key) \(what)") }
        if let unknown = top.keys.sorted().first(where: { !keys.contains($0) }) {
            throw fail(unknown, "is not a setting (known: \(keys.sorted().joined(separator: ", ")))")
        }
        func string(_ key: String, in dict: [String: Any], path: String) throws -> String? {
            guard let v = dict[key] else { return nil }
            guard let s = v as? String, !s.isEmpty else { throw fail(path, "must be a non-empty string") }
            return s
        }
        func int(_ key: String, in dict: [String: Any], path: String, range: ClosedRange<Int>) throws -> Int? {
            guard let v = dict[key] else { return nil }
            // JSON's true and false are not numbers here, whatever NSNumber would make of them.
            guard let number = v as? NSNumber, String(cString: number.objCType) != "c",
                  let i = Int(exactly: number.doubleValue), range.contains(i)
            else { throw fail(path, "must be a whole number from \(range.lowerBound) to \(range.upperBound)") }
            return i
        }
        func strings(_ key: String, in dict: [String: Any], path: String) throws -> [String]? {
            guard let v = dict[key] else { return nil }
            guard let list = v as? [String], list.allSatisfy({ !$0.isEmpty }) else { throw fail(path, "must be a list of non-empty strings") }
            return list
        }
        var config = NodeConfig()
        config.coordinator = try string("coordinator", in: top, path: "coordinator")
        config.listen = try string("listen", in: top, path: "listen")
        if let notify = try string("notify", in: top, path: "notify") {
            if let problem = contactProblem(notify) { throw fail("notify", problem) }
            config.notify = notify
        }
        if let offer = try string("offer", in: top, path: "offer") {
            guard let size = ByteSize(argument: offer), size.bytes > 0 else { throw fail("offer", "must be a size such as \"10G\"") }
            config.offer = size
        }
        config.k = try int("k", in: top, path: "k", range: 1...64)
        config.n = try int("n", in: top, path: "n", range: 2...64)
        if let backup = top["backup"] {
            guard let b = backup as? [String: Any] else { throw fail("backup", "must be an object") }
            if let unknown = b.keys.sorted().first(where: { !backupKeys.contains($0) }) {
                throw fail("backup.\(unknown)", "is not a backup setting (known: \(backupKeys.sorted().joined(separator: ", ")))")
            }
            guard let paths = try strings("paths", in: b, path: "backup.paths"), !paths.isEmpty else {
                throw fail("backup.paths", "must list at least one folder to back up")
            }
            config.backupPaths = paths
            config.backupEveryMinutes = try int("every_minutes", in: b, path: "backup.every_minutes", range: 1...525_600) ?? 24 * 60
            config.backupExcludes = try strings("exclude", in: b, path: "backup.exclude") ?? []
        }
        return config
    }
}
