//! The `[bank]` section: the shape of the MCAS subject's workload
//! (Jepsen's bank test; `crate::mcas::workload`). Only runs whose subject
//! is `mcas` read it. Of `[clients]`, MCAS runs read `count` (every client
//! but the last transfers; the last one audits, when there are two or more)
//! and `ops_per_client` (transfers per transfer client); the deque's keys
//! (mix, value sizes, prefill, backoff) do not apply.

use serde::{Deserialize, Serialize};

/// The bank's accounts and audits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BankConfig {
    /// Accounts (registers holding balances); transfers need two.
    pub accounts: u32,
    /// Each account's opening balance.
    pub balance: u64,
    /// Snapshots the auditor takes while the transfers run (more follow
    /// after them until one is confirmed).
    pub audits: u32,
}

impl Default for BankConfig {
    fn default() -> Self {
        BankConfig {
            accounts: 4,
            balance: 100,
            audits: 3,
        }
    }
}

impl BankConfig {
    /// What makes the section impossible, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.accounts < 2 {
            problems.push(format!(
                "bank.accounts = {}: a transfer needs two accounts",
                self.accounts
            ));
        }
        if self.accounts > 64 {
            problems.push(format!(
                "bank.accounts = {}: a snapshot is one MCAS of every account; at most 64",
                self.accounts
            ));
        }
        problems
    }
}
