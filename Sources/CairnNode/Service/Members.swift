import CairnCore
import CairnCrypto
import Foundation

/// The coordinator's member table beside its core's directory: which owner key has which
/// node number (the same number every time the owner comes back, from any machine), its
/// current node key, and where it can be reached. Kept as JSON in the service state.
struct Member: Codable, Hashable, Sendable {
    var node: UInt32
    /// Owner identity (hex).
    var owner: String
    /// The node key of its latest session (hex).
    var nodeKey: String
    /// Where others reach it; empty host: only through the relay.
    var host: String = ""
    var port: UInt16 = 0
    /// How its operator wants to be told it is needed (`cairn node run --notify`).
    var contact: String?
    /// Node keys this number had before its current one (hex, the newest last, at most
    /// `formerKeysMax`): what a `takeOver` refuses.
    var formerKeys: [String]? = nil
    /// Node keys refused for good: a node on another machine took this number over
    /// (`takeOver`), and the machines it replaced must not act for the owner again.
    var retiredKeys: [String]? = nil

    static let formerKeysMax = 8
    static let retiredKeysMax = ProtocolLimits.retiredKeysMax

    /// The member reached with `key` from now on: the key it had before is remembered.
    func seated(with key: String) -> Member {
        var m = self
        if !nodeKey.isEmpty, nodeKey != key {
            m.formerKeys = Array(((formerKeys ?? []).filter { $0 != key && $0 != nodeKey } + [nodeKey]).suffix(Self.formerKeysMax))
        }
        m.nodeKey = key
        return m
    }

    /// The current node key is the only one from now on: every former one is refused, and
    /// `named`, the keys the node says were refused before (hex): what a coordinator that
    /// lost its directory learns back from the node that took over.
    func tookOver(named: [String] = []) -> Member {
        var m = self
        let retired = ((retiredKeys ?? []) + named + (formerKeys ?? [])).filter { $0 != nodeKey }
        m.retiredKeys = Array(retired.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.suffix(Self.retiredKeysMax))
        m.formerKeys = nil
        return m
    }

    func isRetired(_ key: String) -> Bool { retiredKeys?.contains(key) == true }

    /// Refused node keys kept as hex, as `takeOver` and `keysRetired` carry them: the ones
    /// that decode to a node key, the newest `ProtocolLimits.retiredKeysMax`.
    static func retiredKeyList(_ hex: [String]) -> [[UInt8]] {
        Array(hex.compactMap { Hex.decode($0) }.filter { $0.count == ProtocolLimits.nodeKeyBytes }.suffix(ProtocolLimits.retiredKeysMax))
    }
}

struct MemberTable: Codable, Sendable {
    private(set) var members: [Member] = []

    func member(owner: String) -> Member? { members.first { $0.owner == owner } }
    func member(node: NodeID) -> Member? { members.first { $0.node == node.raw } }

    mutating func remove(node: NodeID) { members.removeAll { $0.node == node.raw } }

    mutating func upsert(_ member: Member) {
        if let i = members.firstIndex(where: { $0.node == member.node }) { members[i] = member } else { members.append(member) }
    }

    static func decode(_ bytes: [UInt8]?) throws(NodeError) -> MemberTable {
        guard let bytes else { return MemberTable() }
        do { return try JSONDecoder().decode(MemberTable.self, from: Data(bytes)) } catch {
            throw NodeError(.dataDirectory, "the coordinator's member table is damaged", cause: error)
        }
    }

    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? [UInt8](encoder.encode(self))) ?? []
    }
}
