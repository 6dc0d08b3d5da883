import CairnWire

/// Holder side of the node core: proposals, arriving shards, challenges, fetches and
/// releases of the contracts it holds for others.
extension NodeCore {
    mutating func onHolderMessage(from: NodeID, _ message: Message, now: Instant, into actions: inout [Action]) {
        switch message {
        case let .propose(terms, _, _, _) where !terms.start.within(params.maxClockSkew, of: now):
            // Both sides count the term from its start: a start this node's clock disagrees
            // with would end the contract at another time on each side.
            actions.append(.send(to: from, .reject(contract: terms.id, reason: ContractBook.Refusal.badTime.rawValue)))
        case let .propose(terms, ownerKey, ownerSignature, mandate):
            // The owner itself (the transport authenticates the sender), or a holder repairing
            // blind on its behalf under the coordinator's mandate for this very placement.
            if from != terms.owner, terms.holder == me,
               !(mandate?.permits(terms, proposer: from, proposerKey: ownerKey, holder: me, now: now,
                                  coordinatorKey: coordinatorKey, verifier: verifier) ?? false)
            {
                actions.append(.send(to: from, .reject(contract: terms.id, reason: ContractBook.Refusal.unauthorized.rawValue)))
                break
            }
            switch book.onPropose(terms, ownerKey: ownerKey, ownerSignature: ownerSignature, signer: signer,
                                  verifier: verifier, proposer: from)
            {
            case .success(let signature):
                actions.append(.send(to: from, .accept(contract: terms.id, holderSignature: signature)))
            case .failure(let refusal):
                actions.append(.send(to: from, .reject(contract: terms.id, reason: refusal.reason.rawValue)))
            }
        case let .storeShard(contract, shard, geometry, root):
            guard let c = book.held[contract], c.proposer == from || c.terms.owner == from,
                  c.terms.bytes == geometry.shardBytes, c.terms.shard == shard, c.state == .active
            else { break }
            actions.append(.storeShard(contract: contract, shard: shard, geometry: geometry, root: root, replyTo: from))
        case let .challenge(id, shard, segment):
            if book.holdsStored(shard) {
                actions.append(.readSegment(challenge: id, shard: shard, segment: segment, replyTo: from))
            } else {
                actions.append(.send(to: from, .challengeMissing(id: id)))
            }
        case let .fetch(request, shard):
            if book.holdsStored(shard) {
                actions.append(.readShard(request: request, shard: shard, replyTo: from))
            } else {
                actions.append(.send(to: from, .fetchReply(request: request, shard: shard, ok: false, bytes: 0)))
            }
        case let .release(contract, at):
            guard let c = book.held[contract], c.terms.owner == from else {
                actions.append(.send(to: from, .releaseAck(contract: contract)))
                break
            }
            // The grace period runs from the owner's release, so both sides agree on its
            // end (a holder that was offline meanwhile has less of it left); an owner
            // cannot extend it by naming a later instant.
            if let until = book.onRelease(contract, now: now, releasedAt: min(at, now)) {
                actions.append(.note(.released(c.terms.shard, graceUntil: until)))
            }
            actions.append(.send(to: from, .releaseAck(contract: contract)))
        default:
            preconditionFailure("not a holder's message: \(message.typeByte)")
        }
    }

    /// Storage wrote the shard of `contract` and checked it against its root (`verified`),
    /// durably: only then is it acknowledged, so an owner never counts a shard that a crash
    /// or a corrupt stream lost.
    public mutating func onShardStored(contract: ContractID, shard: ShardID, replyTo: NodeID, verified: Bool,
                                       now: Instant) -> [Action]
    {
        guard verified else { return [.note(.shardRefused(shard))] }
        guard book.onStore(contract, shard: shard) else { return [] }
        return [.send(to: replyTo, .storeAck(contract: contract))]
    }

    /// Storage read a segment for challenge `challenge` (nil: not, or no longer, here).
    public func onSegmentRead(challenge: UInt64, replyTo: NodeID, answer: (segment: [UInt8], proof: [[UInt8]])?,
                              now: Instant) -> [Action]
    {
        guard let answer else { return [.send(to: replyTo, .challengeMissing(id: challenge))] }
        return [.send(to: replyTo, .challengeReply(id: challenge, segment: answer.segment, proof: answer.proof))]
    }

    /// Storage opened a shard for fetch `request`: the reply, and the shard streams behind it.
    public func onShardRead(request: UInt64, shard: ShardID, replyTo: NodeID, answer: FetchAnswer, now: Instant) -> [Action] {
        switch answer {
        case .data(let bytes): [.send(to: replyTo, .fetchReply(request: request, shard: shard, ok: true, bytes: bytes))]
        case .missing: [.send(to: replyTo, .fetchReply(request: request, shard: shard, ok: false, bytes: 0))]
        case .silent: []
        }
    }
}
