//! The sequential specification of MCAS registers: each key holds a value
//! (or nothing); a read returns it; an MCAS writes every new value if every
//! register holds its expected value, and otherwise changes nothing.
//!
//! A failed MCAS (`NotApplied`) is always a valid step. The library
//! compares CAS tokens, not values: a register whose value came back, or
//! whose claim another MCAS released with the value unchanged, has a new
//! token, so an MCAS can fail with every value as expected (docs/mcas.md).
//! What a value-level spec can demand is that a failure changes nothing and
//! a success found every expected value, which is what atomicity means
//! here: a half-applied or double-applied MCAS, or a lost update, shows as
//! a read or a success no order explains.

use crate::check::spec::SequentialSpec;

/// An operation on interned keys (indices) and values (ids).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegisterOp {
    /// Read one register.
    Read(usize),
    /// `(key, expected, new)` for each register, keys distinct.
    Mcas(Vec<(usize, u32, u32)>),
    /// The servers lost these registers (a world's record, not a client's
    /// operation): they hold nothing from then on.
    Lose(Vec<usize>),
}

/// What an operation returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisterRet {
    /// A read's value; `None` for a register that holds nothing.
    Value(Option<u32>),
    /// The MCAS replaced every register.
    Applied,
    /// The MCAS replaced none.
    NotApplied,
    /// The registers are gone.
    Lost,
}

/// Every register's value, by key index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegisterSpec {
    pub values: Vec<Option<u32>>,
}

impl RegisterSpec {
    fn matches(&self, updates: &[(usize, u32, u32)]) -> bool {
        updates
            .iter()
            .all(|&(key, expected, _)| self.values[key] == Some(expected))
    }
}

impl SequentialSpec for RegisterSpec {
    type Op = RegisterOp;
    type Ret = RegisterRet;

    fn invoke(&mut self, op: &RegisterOp) -> RegisterRet {
        match op {
            RegisterOp::Read(key) => RegisterRet::Value(self.values[*key]),
            RegisterOp::Mcas(updates) if self.matches(updates) => {
                for &(key, _, new) in updates {
                    self.values[key] = Some(new);
                }
                RegisterRet::Applied
            }
            RegisterOp::Mcas(_) => RegisterRet::NotApplied,
            RegisterOp::Lose(keys) => {
                for &key in keys {
                    self.values[key] = None;
                }
                RegisterRet::Lost
            }
        }
    }

    fn is_valid_step(&mut self, op: &RegisterOp, ret: &RegisterRet) -> bool {
        match (op, ret) {
            (RegisterOp::Read(key), RegisterRet::Value(value)) => self.values[*key] == *value,
            (RegisterOp::Mcas(_), RegisterRet::NotApplied) => true,
            (RegisterOp::Mcas(updates), RegisterRet::Applied) if self.matches(updates) => {
                self.invoke(op);
                true
            }
            (RegisterOp::Lose(_), RegisterRet::Lost) => {
                self.invoke(op);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mcas_applies_all_or_nothing() {
        let mut spec = RegisterSpec {
            values: vec![Some(0), Some(1)],
        };
        let both = RegisterOp::Mcas(vec![(0, 0, 10), (1, 1, 11)]);
        let stale = RegisterOp::Mcas(vec![(0, 10, 20), (1, 1, 21)]);
        assert!(!spec.clone().is_valid_step(&stale, &RegisterRet::Applied));
        assert!(spec.is_valid_step(&both, &RegisterRet::Applied));
        assert_eq!(spec.values, [Some(10), Some(11)]);
        assert_eq!(spec.clone().invoke(&stale), RegisterRet::NotApplied);
        assert!(
            spec.is_valid_step(&stale, &RegisterRet::NotApplied),
            "a failure is always valid"
        );
        assert_eq!(spec.values, [Some(10), Some(11)], "and changes nothing");
        assert!(spec.is_valid_step(&RegisterOp::Read(1), &RegisterRet::Value(Some(11))));
        assert!(!spec.is_valid_step(&RegisterOp::Read(1), &RegisterRet::Value(Some(1))));
        assert!(!spec.is_valid_step(&RegisterOp::Read(1), &RegisterRet::Applied));
        // A lost register holds nothing: a read finds nothing, an MCAS
        // expecting its old value cannot succeed.
        assert!(spec.is_valid_step(&RegisterOp::Lose(vec![0]), &RegisterRet::Lost));
        assert!(spec.is_valid_step(&RegisterOp::Read(0), &RegisterRet::Value(None)));
        let after = RegisterOp::Mcas(vec![(0, 10, 30)]);
        assert!(!spec.clone().is_valid_step(&after, &RegisterRet::Applied));
        assert_eq!(spec.values, [None, Some(11)]);
    }
}
