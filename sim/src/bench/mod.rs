//! Benchmarks that the CLI runs (`mcsim bench ...`); each returns a
//! serialisable report so figures in notes come from a rerunnable command.

pub mod checker;
pub mod families;
pub mod mcas;
mod process;
pub mod real;
mod real_report;
pub mod sim;

/// Jain's fairness index of per-client throughputs: 1 when every client got
/// the same share, 1/n when one client got everything.
pub fn jain_index(shares: &[f64]) -> f64 {
    let sum: f64 = shares.iter().sum();
    let sum_of_squares: f64 = shares.iter().map(|x| x * x).sum();
    if sum_of_squares == 0.0 {
        return 1.0;
    }
    sum * sum / (shares.len() as f64 * sum_of_squares)
}

/// The `q`-quantile (0..=1) of sorted samples; 0 for none.
pub fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[rank]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jain_index_spans_one_over_n_to_one() {
        assert_eq!(jain_index(&[5.0, 5.0, 5.0, 5.0]), 1.0);
        assert_eq!(jain_index(&[8.0, 0.0, 0.0, 0.0]), 0.25);
    }

    #[test]
    fn quantiles_pick_ranks() {
        let samples: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&samples, 0.5), 51);
        assert_eq!(quantile(&samples, 0.99), 99);
        assert_eq!(quantile(&[], 0.5), 0);
    }
}
