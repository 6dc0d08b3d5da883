import CairnSimulator
import Foundation
import Testing

/// The repair chain against cases solved by hand.
@Suite struct RepairChainTests {
    /// n = 2, k = 1, λ = 1, μ = 3: T₂ = 1/(2λ) + T₁, T₁ = 1/(λ+μ) + μ/(λ+μ)·T₂, so
    /// T₂ = (3λ + μ)/(2λ²) = 3 and T₁ = T₂ − 1/2 = 2.5.
    @Test func meanTimeToLossByHand() {
        let chain = RepairChain(k: 1, n: 2, failureRate: 1, repairRate: 3)
        #expect(abs(chain.meanTimeToLoss(from: 2) - 3) < 1e-12)
        #expect(abs(chain.meanTimeToLoss(from: 1) - 2.5) < 1e-12)
    }

    /// The same chain: on {2, 1} the generator [[−2λ, 2λ], [μ, −(λ+μ)]] has trace −6 and
    /// determinant 2λ² = 2, eigenvalues s± = −3 ± √7; from 2 the survival S(0) = 1,
    /// S′(0) = 0 gives S(t) = (s₊e^(s₋t) − s₋e^(s₊t)) / (s₊ − s₋).
    @Test func lossOverAHorizonByHand() {
        let chain = RepairChain(k: 1, n: 2, failureRate: 1, repairRate: 3)
        let sp = -3 + 7.0.squareRoot(), sm = -3 - 7.0.squareRoot()
        for t in [0.1, 0.5, 2.0, 10.0] {
            let survival = (sp * exp(sm * t) - sm * exp(sp * t)) / (sp - sm)
            #expect(abs(chain.lossProbability(from: 2, days: t) - (1 - survival)) < 1e-12, "t = \(t)")
        }
        #expect(chain.lossProbability(from: 2, days: 0) == 0)
    }

    /// Without repair the chain is n independent exponential lifetimes: loss by t is the
    /// binomial tail, and the mean time to loss is Σ 1/(iλ) over i = k…n.
    @Test func withoutRepairItIsTheBinomial() {
        let chain = RepairChain(k: 4, n: 8, failureRate: 0.015, repairRate: 0)
        #expect(abs(chain.lossProbability(from: 8, days: 40) - ClosedForms.lossWithoutRepair(k: 4, n: 8, perDay: 0.015, days: 40)) < 1e-12)
        let mean = (4...8).reduce(0.0) { $0 + 1 / (Double($1) * 0.015) }
        #expect(abs(chain.meanTimeToLoss(from: 8) - mean) < 1e-9)
    }

    /// Repair helps, faster repair more; a trigger below n repairs less than n does.
    @Test func repairOrdersTheAnswers() {
        let slow = RepairChain(k: 2, n: 4, failureRate: 0.02, repairRate: 0.1)
        let fast = RepairChain(k: 2, n: 4, failureRate: 0.02, repairRate: 1)
        let lazy = RepairChain(k: 2, n: 4, failureRate: 0.02, repairRate: 0.1, trigger: 3)
        #expect(fast.meanTimeToLoss(from: 4) > slow.meanTimeToLoss(from: 4))
        #expect(slow.meanTimeToLoss(from: 4) > lazy.meanTimeToLoss(from: 4))
        #expect(fast.lossProbability(from: 4, days: 60) < slow.lossProbability(from: 4, days: 60))
        // A long horizon against a short mean time: nearly certain loss.
        #expect(slow.lossProbability(from: 4, days: 100 * slow.meanTimeToLoss(from: 4)) > 0.999)
    }
}
