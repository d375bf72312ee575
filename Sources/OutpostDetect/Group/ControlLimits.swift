/// The textbook control limits of a principal-component model at 99 %: where its T² and Q would stand if the group's
/// data were Gaussian. They are the starting points the group detector learns its own limits from (`GroupLimits`).
package enum ControlLimits {
    /// The standard normal's 99th percentile.
    package static let normal99 = 2.3263478740408408

    /// The `z`-quantile of χ² with `degrees` degrees of freedom (fractional degrees allowed), by Wilson and
    /// Hilferty's cube-root approximation (1931): accurate to about 1 % from one degree of freedom up.
    package static func chiSquared(degrees: Double, z: Double = normal99) -> Double {
        guard degrees > 0 else { return 0 }
        let spread = 2 / (9 * degrees)
        let root = max(0, 1 - spread + z * spread.squareRoot())
        return degrees * root * root * root
    }

    /// Hotelling's T² limit over `components` scores, each divided by its own variance: χ² with that many degrees of
    /// freedom (the F-distribution form tends to it once the model has learned a few hundred samples, and the
    /// detector's limits are learned from data anyway).
    package static func hotelling(components: Int, z: Double = normal99) -> Double {
        chiSquared(degrees: Double(components), z: z)
    }

    /// The limit of Q (the squared prediction error) and the scale of its tail, from the eigenvalues the model left
    /// out, by Jackson and Mudholkar (1979, "Control procedures for residuals associated with principal component
    /// analysis", Technometrics 21): with θᵢ = Σ λʲ over the residual eigenvalues λ and h₀ = 1 − 2θ₁θ₃ / (3θ₂²),
    ///
    ///     Q_α = θ₁ [ z √(2θ₂h₀²) / θ₁ + 1 + θ₂h₀(h₀ − 1) / θ₁² ]^(1 / h₀).
    ///
    /// Where h₀ is near zero or negative (one residual eigenvalue dominates) it falls back to Box's (1954) g·χ²_h
    /// with g = θ₂ / θ₁ and h = θ₁² / θ₂, which is also the returned tail scale g (Q's tail decays as e^(−Q / 2g)).
    package static func squaredPredictionError(residual: ArraySlice<Double>, z: Double = normal99)
        -> (limit: Double, scale: Double)
    {
        var theta1 = 0.0, theta2 = 0.0, theta3 = 0.0
        for value in residual where value > 0 {
            theta1 += value
            theta2 += value * value
            theta3 += value * value * value
        }
        guard theta1 > 0, theta2 > 0 else { return (0, 0) }
        let g = theta2 / theta1
        let h0 = 1 - 2 * theta1 * theta3 / (3 * theta2 * theta2)
        guard h0 > 0.05 else { return (g * chiSquared(degrees: theta1 * theta1 / theta2, z: z), g) }
        let base = z * (2 * theta2 * h0 * h0).squareRoot() / theta1 + 1 + theta2 * h0 * (h0 - 1) / (theta1 * theta1)
        guard base > 0 else { return (g * chiSquared(degrees: theta1 * theta1 / theta2, z: z), g) }
        return (theta1 * Mathematics.power(base, 1 / h0), g)
    }
}
