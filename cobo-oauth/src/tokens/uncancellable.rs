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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use futures::FutureExt as _;

    use super::*;

    #[tokio::test]
    async fn the_work_finishes_when_the_caller_stops_waiting() {
        let go = Arc::new(tokio::sync::Notify::new());
        let done = Arc::new(AtomicBool::new(false));
        let work = {
            let (go, done) = (Arc::clone(&go), Arc::clone(&done));
            async move {
                go.notified().await;
                done.store(true, Ordering::SeqCst);
                Ok::<_, Error>(())
            }
        };
        let waited = tokio::time::timeout(Duration::from_millis(20), uncancellable(work)).await;
        assert!(waited.is_err(), "the caller gave up waiting");
        go.notify_one();
        for _ in 0..100 {
            if done.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the work was cancelled with its caller");
    }

    #[tokio::test]
    async fn a_panic_of_the_work_reaches_the_caller() {
        let outcome = std::panic::AssertUnwindSafe(uncancellable(async {
            if true {
                panic!("the work's own panic");
            }
            Ok::<(), Error>(())
        }))
        .catch_unwind()
        .await;
        let payload = outcome.expect_err("the panic is resumed in the caller");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"the work's own panic")
        );
    }

    #[test]
    fn work_stopped_by_the_runtime_shutdown_is_renewal_interrupted() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        let mut waiting = Box::pin(uncancellable(std::future::pending::<Result<(), Error>>()));
        runtime.block_on(async {
            // Starts the work, then stops waiting for it.
            let started = tokio::time::timeout(Duration::from_millis(10), &mut waiting).await;
            assert!(started.is_err());
        });
        drop(runtime);
        let outcome = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("another runtime")
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), waiting).await })
            .expect("the caller learns at once that the work stopped");
        assert!(
            matches!(outcome, Err(Error::RenewalInterrupted)),
            "{outcome:?}"
        );
    }
}
