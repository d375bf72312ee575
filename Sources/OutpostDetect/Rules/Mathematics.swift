// The C library's exponential and logarithm, which the rules' probabilities need: the one place detection calls the
// platform (FoundationEssentials does not carry them).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

package enum Mathematics {
    package static func exponential(_ x: Double) -> Double { exp(x) }
    package static func logarithm(_ x: Double) -> Double { log(x) }
    package static func log10(_ x: Double) -> Double { logarithm(x) / logarithm(10) }

    /// P(X ≥ atLeast) for X ~ Binomial(trials, probability): how likely `atLeast` excursions among `trials`
    /// samples are when each is one with `probability`, independently. `trials` is small (at most 64).
    package static func binomialTail(trials: Int, atLeast: Int, probability: Double) -> Double {
        guard atLeast > 0 else { return 1 }
        guard atLeast <= trials else { return 0 }
        let p = min(max(probability, 1e-12), 1 - 1e-12)
        // The first term, C(trials, atLeast) p^atLeast q^(trials - atLeast), in logarithms (p^64 underflows)...
        var logCoefficient = 0.0
        for index in 0..<atLeast {
            logCoefficient += logarithm(Double(trials - index)) - logarithm(Double(index + 1))
        }
        var term = exponential(logCoefficient + Double(atLeast) * logarithm(p)
            + Double(trials - atLeast) * logarithm(1 - p))
        // ...then each next one from the one before.
        var total = term
        for successes in atLeast..<trials {
            term *= Double(trials - successes) / Double(successes + 1) * p / (1 - p)
            total += term
        }
        return min(1, total)
    }
}
