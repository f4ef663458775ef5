//! Faults armed on counts, and the one rule for when each fires, the same in
//! every world:
//!
//! - `after_ops = N` fires as soon as at least N operations (all clients
//!   together) have returned. The count is looked at when the workload
//!   starts and after every return, so `ops = 0` fires before the first
//!   operation, and a fault armed on a count already passed fires at once.
//! - `after_client_requests = N` for client C fires just before C sends its
//!   data request number N + 1 (its first N have been sent), so it sits
//!   between two exact steps of the algorithm. Lifetime checks are not data
//!   requests: they are not steps of the algorithm, so the same N pins the
//!   same step on every variant.
//!
//! Faults at a time (`at_us`) are not armed: each world's clock fires them.

use crate::config::{Fault, FaultSpec, Trigger};

/// The faults still waiting for their count.
#[derive(Debug, Clone, Default)]
pub struct Triggers {
    armed: Vec<FaultSpec>,
}

impl Triggers {
    /// Splits a run's scheduled faults into those at a time (`(at_us,
    /// fault)`, for the world's clock) and those armed on counts.
    pub fn arm(faults: &[FaultSpec]) -> (Vec<(u64, Fault)>, Triggers) {
        let mut timed = Vec::new();
        let mut armed = Vec::new();
        for spec in faults {
            match spec.trigger {
                Trigger::AtUs { at_us } => timed.push((at_us, spec.fault.clone())),
                Trigger::AfterOps { .. } | Trigger::AfterClientRequests { .. } => armed.push(spec.clone()),
            }
        }
        (timed, Triggers { armed })
    }

    /// The faults due now that `completed` operations have returned (call
    /// at the start of the workload with 0, and after every return), in
    /// the order the scenario lists them.
    pub fn after_ops(&mut self, completed: u64) -> Vec<Fault> {
        self.take(|trigger| matches!(trigger, Trigger::AfterOps { ops } if completed >= ops))
    }

    /// The faults due before `client` sends a data request when it has sent
    /// `sent` of them.
    pub fn before_request(&mut self, client: usize, sent: u64) -> Vec<Fault> {
        self.take(|trigger| {
            matches!(trigger, Trigger::AfterClientRequests { client: c, requests }
                if c as usize == client && requests == sent)
        })
    }

    /// Whether a fault is pinned strictly inside `client`'s next `count`
    /// data requests (after the first of them): a batch of them must then go
    /// one request at a time, so the fault lands exactly where it is pinned.
    pub fn pinned_within(&self, client: usize, sent: u64, count: u64) -> bool {
        self.armed.iter().any(|spec| {
            matches!(spec.trigger, Trigger::AfterClientRequests { client: c, requests }
                if c as usize == client && requests > sent && requests < sent + count)
        })
    }

    /// Whether nothing is armed any more.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.armed.is_empty()
    }

    fn take(&mut self, due: impl Fn(Trigger) -> bool) -> Vec<Fault> {
        if !self.armed.iter().any(|spec| due(spec.trigger)) {
            return Vec::new();
        }
        let (fired, kept): (Vec<FaultSpec>, Vec<FaultSpec>) = std::mem::take(&mut self.armed)
            .into_iter()
            .partition(|spec| due(spec.trigger));
        self.armed = kept;
        fired.into_iter().map(|spec| spec.fault).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(trigger: Trigger, server: u32) -> FaultSpec {
        FaultSpec {
            trigger,
            fault: Fault::Restart { server },
        }
    }

    #[test]
    fn timed_faults_go_to_the_clock() {
        let (timed, triggers) = Triggers::arm(&[
            spec(Trigger::AtUs { at_us: 5 }, 0),
            spec(Trigger::AfterOps { ops: 1 }, 1),
        ]);
        assert_eq!(timed, vec![(5, Fault::Restart { server: 0 })]);
        assert!(!triggers.is_empty());
    }

    #[test]
    fn op_counts_fire_at_zero_exactly_at_n_and_once_past_n() {
        let (_, mut triggers) = Triggers::arm(&[
            spec(Trigger::AfterOps { ops: 0 }, 0),
            spec(Trigger::AfterOps { ops: 3 }, 1),
            spec(Trigger::AfterOps { ops: 3 }, 2),
            spec(Trigger::AfterOps { ops: 5 }, 3),
        ]);
        assert_eq!(triggers.after_ops(0), vec![Fault::Restart { server: 0 }]);
        assert!(triggers.after_ops(2).is_empty());
        // Exactly at 3: both, in the scenario's order.
        assert_eq!(
            triggers.after_ops(3),
            vec![Fault::Restart { server: 1 }, Fault::Restart { server: 2 }]
        );
        assert!(triggers.after_ops(3).is_empty(), "a fault fires once");
        // A count that jumped past 5 still fires it.
        assert_eq!(triggers.after_ops(9), vec![Fault::Restart { server: 3 }]);
        assert!(triggers.is_empty());
    }

    #[test]
    fn request_counts_fire_before_exactly_the_next_request_of_their_client() {
        let pinned = Trigger::AfterClientRequests { client: 1, requests: 2 };
        let (_, mut triggers) = Triggers::arm(&[spec(pinned, 0)]);
        assert!(triggers.before_request(0, 2).is_empty(), "another client");
        assert!(triggers.before_request(1, 1).is_empty(), "too early");
        assert!(triggers.pinned_within(1, 1, 3), "inside a batch of requests 2..4");
        assert!(!triggers.pinned_within(1, 2, 3), "at a batch's start: fires before it");
        assert_eq!(triggers.before_request(1, 2), vec![Fault::Restart { server: 0 }]);
        assert!(triggers.before_request(1, 2).is_empty());
    }

    #[test]
    fn a_request_trigger_at_zero_fires_before_the_first_request() {
        let pinned = Trigger::AfterClientRequests { client: 0, requests: 0 };
        let (_, mut triggers) = Triggers::arm(&[spec(pinned, 0)]);
        assert_eq!(triggers.before_request(0, 0).len(), 1);
    }
}
