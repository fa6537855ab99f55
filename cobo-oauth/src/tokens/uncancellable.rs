//! [`uncancellable`]: work that a caller must not cancel, such as a renewal and its save.

use std::future::Future;

use crate::error::Error;

/// Runs `work` to the end in a task of its own and gives its outcome. A caller dropped while it
/// waits (a timeout, `tokio::select!`, a web handler whose client left) cancels nothing: the
/// work finishes anyway. A panic of the work is resumed here; work stopped by the shutdown of
/// the tokio runtime is [`Error::RenewalInterrupted`].
pub(super) async fn uncancellable<T, E>(
    work: impl Future<Output = Result<T, E>> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<Error> + Send + 'static,
{
    match tokio::spawn(work).await {
        Ok(outcome) => outcome,
        Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
        Err(_) => Err(Error::RenewalInterrupted.into()),
    }
}
