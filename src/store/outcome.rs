//! What a reply means for the command that got it: one interpretation of
//! memcached's answers, shared by the typed helpers of [`Store`](super::Store)
//! and by every caller of a batch, so no two places read a reply differently.

use super::{AddOutcome, CasOutcome, CasToken, Command, Item, Life, Reply, ServerError, StoreError};

/// What a `gets` reply means (for [`Store::gets`] and batches).
pub fn gets_outcome(command: &Command, reply: Result<Reply, StoreError>) -> Result<Option<Item>, StoreError> {
    match reply? {
        Reply::Value(item) => Ok(Some(item)),
        Reply::Miss => Ok(None),
        Reply::ServerError(error) => Err(StoreError::refused(command, error)),
        other => Err(StoreError::unexpected(command, &other)),
    }
}

/// What a `set` reply means (for [`Store::set`] and batches).
pub fn set_outcome(command: &Command, reply: Result<Reply, StoreError>) -> Result<CasToken, StoreError> {
    match reply? {
        Reply::Stored { cas } => Ok(cas),
        Reply::ServerError(error) => Err(StoreError::refused(command, error)),
        other => Err(StoreError::unexpected(command, &other)),
    }
}

/// What an `add` reply means (for [`Store::add`] and batches).
pub fn add_outcome(command: &Command, reply: Result<Reply, StoreError>) -> Result<AddOutcome, StoreError> {
    match reply? {
        Reply::Stored { cas } => Ok(AddOutcome::Stored(cas)),
        Reply::NotStored => Ok(AddOutcome::NotStored),
        Reply::ServerError(error) => Err(StoreError::refused(command, error)),
        other => Err(StoreError::unexpected(command, &other)),
    }
}

/// The replies of a batch of `commands`, one per command even when a store
/// broke [`Store::call_batch`]'s promise and answered fewer: each missing
/// one is a protocol error (its outcome unknown).
pub fn replies_for(
    commands: &[Command],
    mut replies: Vec<Result<Reply, StoreError>>,
) -> Vec<Result<Reply, StoreError>> {
    for command in commands.iter().skip(replies.len()) {
        replies.push(Err(StoreError::Protocol {
            command: command.name(),
            key: command.key().clone(),
            detail: "the store answered fewer replies than the batch had commands".to_owned(),
        }));
    }
    replies.truncate(commands.len());
    replies
}

impl StoreError {
    /// Whether the server refused a write for size or memory, which also
    /// removes whatever the key held (memcached unlinks the item, see
    /// `memcore`): the key's old value is gone, not untouched.
    pub fn unlinked_the_item(&self) -> bool {
        matches!(
            self,
            StoreError::Server {
                error: ServerError::TooLarge | ServerError::OutOfMemory,
                ..
            }
        )
    }
}

/// What a `cas` reply means (for [`Store::cas`] and batches).
pub fn cas_outcome(command: &Command, reply: Result<Reply, StoreError>) -> Result<CasOutcome, StoreError> {
    match reply? {
        Reply::Stored { cas } => Ok(CasOutcome::Stored(cas)),
        Reply::Exists => Ok(CasOutcome::Exists),
        Reply::NotFound => Ok(CasOutcome::NotFound),
        Reply::ServerError(error) => Err(StoreError::refused(command, error)),
        other => Err(StoreError::unexpected(command, &other)),
    }
}

/// What a [`Command::Lifetime`] reply means (for [`lifetime`] and batches).
pub fn lifetime_outcome(command: &Command, reply: Result<Reply, StoreError>) -> Result<Life, StoreError> {
    match reply? {
        Reply::Lifetime(life) => Ok(life),
        Reply::ServerError(error) => Err(StoreError::refused(command, error)),
        other => Err(StoreError::unexpected(command, &other)),
    }
}
