import CairnCore
import Testing

/// A challenge the shell vouches for inside the tick (`issue(…settled:knownPass:)`) must
/// leave the scheduler exactly as recording it, sending it and taking its pass afterwards
/// would (`onKnownPass` after the whole tick, the simulator's older path): same records,
/// same generator stream, same messages for the rest — also when the bound on outstanding
/// challenges evicts during the tick.
@Test(arguments: [3, 7, 1_000])
func challengesSettledInTheTickLeaveTheSchedulerAsPassesTakenAfterIt(bound: Int) {
    let owner = NodeID(1)
    let extent = SlotExtent(packs: 4, bytes: 4096, root: Array(repeating: 7, count: 32))
    var recorded = ChallengeScheduler(bound: bound)
    var settledInTick = ChallengeScheduler(bound: bound)
    var rngA = Xoshiro256(seed: 99)
    var rngB = Xoshiro256(seed: 99)
    var vouch = Xoshiro256(seed: 5)
    var now = Instant.zero
    var settledCount = 0
    for tick in 0..<40 {
        // Some ticks time challenges out first, as the node's tick does.
        if tick % 5 == 4 {
            #expect(recorded.sweep(now: now).map(\.slot) == settledInTick.sweep(now: now).map(\.slot))
        }
        var passesAfter = [(UInt64, NodeID)]()
        var sent = [Message]()
        var settled = SettledChallenges()
        let challenges = 1 + tick % 9
        for c in 0..<challenges {
            let holder = NodeID(UInt32(2 + c))
            let slot = SlotID(volume: VolumeID(owner: owner, number: UInt32(tick)), index: UInt8(c))
            let contract = ContractID(owner: owner, counter: UInt32(tick * 16 + c))
            let known = vouch.bounded(3) != 0
            let a = recorded.issue(contract: contract, holder: holder, slot: slot, extent: extent, audit: c == 0,
                                   now: now, timeout: .minutes(10), rng: &rngA)
            let b = settledInTick.issue(contract: contract, holder: holder, slot: slot, extent: extent, audit: c == 0,
                                        now: now, timeout: .minutes(10), rng: &rngB, settled: &settled,
                                        knownPass: { probe in
                                            #expect(probe.holder == holder && probe.slot == slot && probe.packs == 4)
                                            return known
                                        })
            guard case let .challenge(id, _, _, _, _) = a else {
                Issue.record("issue returned \(a)")
                return
            }
            if known {
                #expect(b == nil)
                passesAfter.append((id, holder))
                settledCount += 1
            } else {
                #expect(b == a)
                sent.append(a)
            }
        }
        for (id, holder) in passesAfter {
            switch recorded.onKnownPass(id: id, from: holder) {
            case .pass, .stale: break
            case .fail: Issue.record("a known pass failed")
            }
        }
        #expect(recorded.outstanding == settledInTick.outstanding, "tick \(tick)")
        #expect(sent.count <= challenges)
        now = now + .minutes(7)
    }
    #expect(settledCount > 20)
    #expect(rngA.next() == rngB.next())
}
