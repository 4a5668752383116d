//! A `postgres` client that can be dropped inside a tokio runtime.

use std::ops::{Deref, DerefMut};

use ::postgres::Client;

/// Owns a synchronous `postgres` client and closes it on another thread
/// when dropped inside a tokio runtime.
///
/// The client runs its own runtime for every call, including the one that
/// closes the connection when it is dropped, and tokio panics when a
/// runtime starts inside another. A store dropped at the end of an `async`
/// block would otherwise take the process down.
pub(super) struct OwnedClient(Option<Client>);

impl OwnedClient {
    pub(super) fn new(client: Client) -> OwnedClient {
        OwnedClient(Some(client))
    }
}

impl Deref for OwnedClient {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.0.as_ref().expect("the client is present until drop")
    }
}

impl DerefMut for OwnedClient {
    fn deref_mut(&mut self) -> &mut Client {
        self.0.as_mut().expect("the client is present until drop")
    }
}

impl Drop for OwnedClient {
    fn drop(&mut self) {
        let Some(client) = self.0.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return drop(client);
        }
        // NOTE: when the thread cannot start, `spawn` panics, as the drop on
        // this thread would have.
        std::thread::spawn(move || drop(client));
    }
}
