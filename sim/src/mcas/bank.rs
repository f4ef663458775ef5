//! Jepsen's bank invariant on an MCAS history: accounts hold numbers, and
//! every snapshot that an MCAS confirmed (one that wrote every account back
//! unchanged and succeeded, so the values were all current at one instant)
//! must hold the whole sum. A failure reads as "money created or
//! destroyed", which is how a user of a bank thinks about atomicity.
//!
//! A value is the balance in decimal, optionally followed by `#` and a tag
//! that makes it unique (`93#c0.1`).

use super::history::{McasHistory, McasOpKind, McasResult};

/// The balance a value stands for, or why it is not one.
pub fn balance(value: &str) -> Result<i64, String> {
    let digits = value.split('#').next().unwrap_or_default();
    digits.parse().map_err(|_| format!("value {value:?} is not a balance"))
}

/// Checks every confirmed snapshot of `accounts` against `total`. Returns
/// how many snapshots were checked (zero checks nothing: the caller must
/// not count that as a pass), or the first one that breaks the invariant.
pub fn money_conserved(history: &McasHistory, accounts: &[String], total: i64) -> Result<usize, String> {
    let mut checked = 0;
    for (i, op) in history.ops.iter().enumerate() {
        let (McasOpKind::Mcas { updates }, McasResult::Ok) = (&op.kind, &op.result) else {
            continue;
        };
        let snapshot =
            updates.iter().all(|u| u.expected == u.new) && accounts.iter().all(|a| updates.iter().any(|u| &u.key == a));
        if !snapshot {
            continue;
        }
        let mut sum = 0;
        for update in updates.iter().filter(|u| accounts.contains(&u.key)) {
            sum += balance(&update.expected).map_err(|e| format!("op {i}: {e}"))?;
        }
        if sum != total {
            let change = if sum > total { "created" } else { "destroyed" };
            return Err(format!(
                "op {i}: a confirmed snapshot holds {sum}, not {total}: money {change}"
            ));
        }
        checked += 1;
    }
    Ok(checked)
}
