//! The descriptor protocol, run by an MCAS's originator and by every client
//! that meets one of its claims: claim the registers in key order, check
//! the servers' lives, decide once, release. docs/mcas.md argues why each
//! step is safe on memcached.

use std::collections::BTreeMap;

use rand_core::Rng;

use super::format::{self, Descriptor, Register, Status};
use super::{McasClient, McasCorruptionKind, McasError, McasOp, McasVariant, corruption, malformed, no_effect};
use crate::format::NodeId;
use crate::key::Key;
use crate::store::{
    CasOutcome, CasToken, Command, Store, StoreError, cas_outcome, gets_outcome, lifetime_outcome, replies_for,
};

/// Who runs the protocol: the originator must learn the outcome (and alone
/// deletes the descriptor, so it can always read the decision); a helper
/// only moves the MCAS on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Originator,
    Helper,
}

/// The error for a failure before the decision: the originator cannot tell
/// whether others will finish its claims if any may exist (an earlier
/// claim, or a request whose effect is unknown); otherwise nothing took
/// effect. A helper's failure never changes its caller's own outcome.
fn undecided(op: McasOp, role: Role, claims_may_exist: bool, source: StoreError) -> McasError {
    match role {
        Role::Originator if claims_may_exist || source.outcome_unknown() => McasError::OutcomeUnknown { op, source },
        _ => no_effect(op, source),
    }
}

impl<S: Store> McasClient<S> {
    /// Settles the claim of descriptor `id` found in `key` (with token
    /// `claim_token`): helps that MCAS to its end. A missing descriptor is
    /// harmless if the register has moved on since (the MCAS ended and was
    /// collected), and corruption if it still holds this very claim: only
    /// the originator deletes a descriptor, after releasing every register,
    /// and no claim can land after the decision (docs/mcas.md).
    pub(super) async fn resolve_claim(
        &mut self,
        op: McasOp,
        key: &Key,
        id: NodeId,
        claim_token: CasToken,
    ) -> Result<(), McasError> {
        let descriptor_key = format::descriptor_key(id);
        let loaded = self
            .store
            .gets(&descriptor_key)
            .await
            .map_err(|source| no_effect(op, source))?;
        let Some(item) = loaded else {
            let again = self.store.gets(key).await.map_err(|source| no_effect(op, source))?;
            if again.is_some_and(|item| item.cas == claim_token) {
                let kind = McasCorruptionKind::MissingDescriptor {
                    descriptor: descriptor_key,
                };
                return Err(corruption(op, key, kind));
            }
            return Ok(());
        };
        let descriptor = format::decode_descriptor(&item.value).map_err(|e| malformed(op, &descriptor_key, e))?;
        if !descriptor.entries.iter().any(|entry| entry.key == *key) {
            let kind = McasCorruptionKind::StrayClaim {
                descriptor: descriptor_key,
            };
            return Err(corruption(op, key, kind));
        }
        self.help(op, id, descriptor, item.cas, Role::Helper).await.map(|_| ())
    }

    /// Runs descriptor `id` (read with `token`) to its end. Returns its
    /// decision, or `None` when a helper found it finished and collected.
    pub(super) async fn help(
        &mut self,
        op: McasOp,
        id: NodeId,
        descriptor: Descriptor,
        token: CasToken,
        role: Role,
    ) -> Result<Option<Status>, McasError> {
        let Descriptor { mut status, entries } = descriptor;
        let descriptor_key = format::descriptor_key(id);
        let mut claims: Vec<Option<CasToken>> = vec![None; entries.len()];
        let mut finding: Option<McasError> = None;
        // The registers this client claimed itself (indices into entries).
        let mut own_claims: Vec<usize> = Vec::new();
        if status == Status::Undecided {
            let mut decision = Status::Succeeded;
            let servers = self.server_representatives(&entries);
            for (i, entry) in entries.iter().enumerate() {
                let earlier_claims = i > 0;
                let claim = Command::Cas {
                    key: entry.key.clone(),
                    value: format::encode_register(&Register::Claim(id)),
                    token: entry.token,
                };
                // The servers' lives ride on the last claim: asked after
                // every claim landed, so a restart before then shows.
                let checks: &[Key] = if i + 1 == entries.len() { &servers } else { &[] };
                let mut batch = vec![claim.clone()];
                for key in checks {
                    let mark = self.rng.next_u64();
                    batch.push(Command::Lifetime { key: key.clone(), mark });
                }
                let replies = replies_for(&batch, self.store.call_batch(batch.clone()).await);
                let mut replies = replies.into_iter();
                let claimed = cas_outcome(&claim, replies.next().expect("replies_for answers every command"));
                let claimed = match claimed {
                    // The server refused the claim and dropped the register.
                    Err(source) if source.unlinked_the_item() => Ok(CasOutcome::NotFound),
                    other => other,
                };
                match claimed.map_err(|source| undecided(op, role, earlier_claims, source))? {
                    CasOutcome::Stored(claim_token) => {
                        claims[i] = Some(claim_token);
                        own_claims.push(i);
                    }
                    // The slip: taken as claimed by a helper, never read.
                    CasOutcome::Exists if self.variant == McasVariant::ClaimMismatchTakenAsHelped => {}
                    CasOutcome::Exists | CasOutcome::NotFound => {
                        let reread = self.store.gets(&entry.key).await;
                        let item = reread.map_err(|source| undecided(op, role, earlier_claims, source))?;
                        match item.map(|item| (format::decode_register(&item.value), item.cas)) {
                            Some((Ok(Register::Claim(claimant)), claim_token)) if claimant == id => {
                                claims[i] = Some(claim_token);
                            }
                            // Changed since it was read, or claimed by another
                            // MCAS: that token never returns, so this MCAS
                            // fails (no need to help the other to decide).
                            Some((Ok(_), _)) => {
                                decision = Status::Failed;
                                break;
                            }
                            Some((Err(error), _)) => {
                                finding = Some(malformed(op, &entry.key, error));
                                decision = Status::Failed;
                                break;
                            }
                            None => {
                                finding = Some(corruption(op, &entry.key, McasCorruptionKind::MissingRegister));
                                decision = Status::Failed;
                                break;
                            }
                        }
                    }
                }
                for (key, (command, reply)) in checks.iter().zip(batch.iter().skip(1).zip(replies)) {
                    let life = lifetime_outcome(command, reply).map_err(|source| undecided(op, role, true, source))?;
                    let running = life.stamp();
                    let server = self.store.server_name(key);
                    let foreign = entries
                        .iter()
                        .find(|e| e.life != running && self.store.server_name(&e.key) == server);
                    if let Some(foreign) = foreign {
                        let kind = McasCorruptionKind::ForeignLifetime {
                            running,
                            found: foreign.life,
                        };
                        finding.get_or_insert(corruption(op, &foreign.key, kind));
                        decision = Status::Failed;
                    }
                    self.lives.insert(server, running);
                }
            }
            if self.variant == McasVariant::ReleaseBeforeDecided {
                // The slip: released by this client's own decision first.
                self.release(op, id, &entries, decision, &mut claims, &mut finding)
                    .await;
            }
            let decided = Descriptor {
                status: decision,
                entries: entries.clone(),
            };
            status = match self.decide(op, &descriptor_key, &decided, token, role).await? {
                Some(status) => status,
                // Collected: the originator released every claim it could
                // see, this client's too (they landed before the decision).
                None => {
                    return self
                        .collected(op, &descriptor_key, &entries, &claims, &own_claims)
                        .await;
                }
            };
        }
        let complete = self.release(op, id, &entries, status, &mut claims, &mut finding).await;
        let collects = role == Role::Originator || self.variant == McasVariant::HelperDeletes;
        if collects && complete {
            // Every register has left this descriptor and none can return
            // to it: collect it (best effort; a leftover is inert).
            let _ = self.store.delete(&descriptor_key).await;
        }
        match finding {
            Some(error) => Err(error),
            None => Ok(Some(status)),
        }
    }

    /// A helper found the descriptor collected after claiming registers
    /// itself. A claim that landed before the decision was released by the
    /// originator (its release reads every register it did not claim), so
    /// a claim still standing landed after the originator's release, which
    /// only a restart or a loss allows (docs/mcas.md): it now points at
    /// nothing, and its register's value is unknowable.
    async fn collected(
        &mut self,
        op: McasOp,
        descriptor_key: &Key,
        entries: &[format::DescriptorEntry],
        claims: &[Option<CasToken>],
        own_claims: &[usize],
    ) -> Result<Option<Status>, McasError> {
        for &i in own_claims {
            let key = &entries[i].key;
            let item = self.store.gets(key).await.map_err(|source| no_effect(op, source))?;
            if item.is_some_and(|item| Some(item.cas) == claims[i]) {
                let kind = McasCorruptionKind::MissingDescriptor {
                    descriptor: descriptor_key.clone(),
                };
                return Err(corruption(op, key, kind));
            }
        }
        Ok(None)
    }

    /// Moves the descriptor from undecided to `decided.status` with a
    /// `cas`, or learns the decision another client made first. `None`: a
    /// helper found the descriptor collected (the MCAS is over).
    async fn decide(
        &mut self,
        op: McasOp,
        descriptor_key: &Key,
        decided: &Descriptor,
        mut token: CasToken,
        role: Role,
    ) -> Result<Option<Status>, McasError> {
        let bytes = format::encode_descriptor(decided);
        let mut lost_reply: Option<StoreError> = None;
        if self.variant == McasVariant::DecideWithoutCas {
            // The slip: whatever was decided before is overwritten.
            return match self.store.set(descriptor_key, bytes).await {
                Ok(_) => Ok(Some(decided.status)),
                Err(source) if role == Role::Originator => Err(McasError::OutcomeUnknown { op, source }),
                Err(source) => Err(no_effect(op, source)),
            };
        }
        for _ in 0..self.retries_max {
            match self.store.cas(descriptor_key, bytes.clone(), token).await {
                Ok(CasOutcome::Stored(_)) => return Ok(Some(decided.status)),
                Ok(CasOutcome::NotFound) => return self.descriptor_gone(op, descriptor_key, role),
                Ok(CasOutcome::Exists) => {}
                // A lost reply: read what was decided, by us or another.
                Err(source) if source.outcome_unknown() => lost_reply = Some(source),
                Err(source) if role == Role::Originator => return Err(McasError::OutcomeUnknown { op, source }),
                Err(source) => return Err(no_effect(op, source)),
            }
            let reread = self.store.gets(descriptor_key).await;
            let item = match reread {
                Ok(Some(item)) => item,
                Ok(None) => return self.descriptor_gone(op, descriptor_key, role),
                Err(source) if role == Role::Originator => return Err(McasError::OutcomeUnknown { op, source }),
                Err(source) => return Err(no_effect(op, source)),
            };
            let current = format::decode_descriptor(&item.value).map_err(|e| malformed(op, descriptor_key, e))?;
            if current.status != Status::Undecided {
                return Ok(Some(current.status));
            }
            token = item.cas;
        }
        // Undecided after every attempt: the claims stand, and the decision
        // still to come is others' to make.
        match (role, lost_reply) {
            (Role::Originator, Some(source)) => Err(McasError::OutcomeUnknown { op, source }),
            _ => Err(McasError::RetriesExhausted {
                op,
                attempts: self.retries_max,
            }),
        }
    }

    /// The descriptor vanished before its decision was read. Only its
    /// originator deletes it, after deciding, so for the originator it was
    /// lost; a helper arrived after the end.
    fn descriptor_gone(&self, op: McasOp, descriptor_key: &Key, role: Role) -> Result<Option<Status>, McasError> {
        match role {
            Role::Helper => Ok(None),
            Role::Originator => {
                let kind = McasCorruptionKind::MissingDescriptor {
                    descriptor: descriptor_key.clone(),
                };
                Err(corruption(op, descriptor_key, kind))
            }
        }
    }

    /// Releases every register still claimed by descriptor `id` to its new
    /// value (succeeded) or its old one (failed), stamped with the life it
    /// was read in, in one pipeline. Claims whose token is not known yet are
    /// read first (one more pipeline). Returns whether every register's
    /// state is known to have left the claim (so the descriptor may go); a
    /// register that vanished while claimed is recorded in `finding`.
    async fn release(
        &mut self,
        op: McasOp,
        id: NodeId,
        entries: &[format::DescriptorEntry],
        status: Status,
        claims: &mut [Option<CasToken>],
        finding: &mut Option<McasError>,
    ) -> bool {
        let mut complete = true;
        let unknown: Vec<usize> = (0..entries.len()).filter(|&i| claims[i].is_none()).collect();
        if !unknown.is_empty() {
            let reads: Vec<Command> = unknown
                .iter()
                .map(|&i| Command::Gets {
                    key: entries[i].key.clone(),
                })
                .collect();
            let replies = replies_for(&reads, self.store.call_batch(reads.clone()).await);
            for ((&i, command), reply) in unknown.iter().zip(&reads).zip(replies) {
                match gets_outcome(command, reply) {
                    Ok(Some(item)) => {
                        if format::decode_register(&item.value) == Ok(Register::Claim(id)) {
                            claims[i] = Some(item.cas);
                        }
                    }
                    // Never claimed (or lost since: a reader reports it).
                    Ok(None) => {}
                    Err(_) => complete = false,
                }
            }
        }
        let releases: Vec<(usize, Command)> = claims
            .iter()
            .enumerate()
            .filter_map(|(i, claim)| {
                let entry = &entries[i];
                let value = if status == Status::Succeeded {
                    entry.new.clone()
                } else {
                    entry.old.clone()
                };
                claim.map(|token| {
                    let value = format::encode_register(&Register::Value {
                        life: entry.life,
                        value,
                    });
                    let key = entry.key.clone();
                    if self.variant == McasVariant::ReleaseWithoutCas {
                        // The slip: overwrites whatever came after the release.
                        return (i, Command::Set { key, value });
                    }
                    (i, Command::Cas { key, value, token })
                })
            })
            .collect();
        let commands: Vec<Command> = releases.iter().map(|(_, command)| command.clone()).collect();
        let replies = replies_for(&commands, self.store.call_batch(commands.clone()).await);
        for ((i, command), reply) in releases.iter().zip(replies) {
            match cas_outcome(command, reply) {
                // Released, by this client or by another.
                Ok(CasOutcome::Stored(_) | CasOutcome::Exists) => {}
                // Vanished while claimed, or dropped by a refused release:
                // its value is lost.
                Ok(CasOutcome::NotFound) => {
                    finding.get_or_insert(corruption(op, &entries[*i].key, McasCorruptionKind::MissingRegister));
                }
                Err(source) if source.unlinked_the_item() => {
                    finding.get_or_insert(corruption(op, &entries[*i].key, McasCorruptionKind::MissingRegister));
                }
                Err(_) => complete = false,
            }
        }
        complete
    }

    /// One key per server among `entries` (by [`Store::server_name`]), to
    /// ask each server's life once.
    fn server_representatives(&self, entries: &[format::DescriptorEntry]) -> Vec<Key> {
        let mut servers: BTreeMap<String, Key> = BTreeMap::new();
        for entry in entries {
            servers
                .entry(self.store.server_name(&entry.key))
                .or_insert_with(|| entry.key.clone());
        }
        servers.into_values().collect()
    }
}
