//! [`InstallQueue`]: the bounded budget of install grants ([`OrgTokens::on_install`]), apart
//! from the renewal permits, with the callbacks for one organization coalesced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::install::InstallError;
#[cfg(doc)]
use super::tokens::OrgTokens;
use crate::error::Error;

/// What a grant's callbacks are told: `Ok`, or the grant's error, shared by every callback it
/// answers.
pub(super) type Outcome = Result<(), Arc<Error>>;

/// The most callbacks one queued grant answers: those for an organization that arrive while its
/// grant waits join it, and anyone can send them, so their answers must not grow with the rate
/// they come at. Callers that left do not count; beyond it, [`InstallError::Busy`].
const MAX_CALLBACKS_PER_GRANT: usize = 64;

/// Install grants queued or in flight, at most `max_in_flight` sent at once and `max_queued`
/// more waiting; one grant per organization waits at a time, answering every callback for it
/// that arrives before it starts.
#[derive(Debug)]
pub(super) struct InstallQueue {
    in_flight: Arc<Semaphore>,
    max_in_flight: u32,
    /// Grants queued or in flight, at most this many.
    limit: usize,
    state: Mutex<Grants>,
}

/// The grants admitted.
#[derive(Debug, Default)]
struct Grants {
    /// Grants queued or in flight.
    count: usize,
    by_org: HashMap<String, OrgGrants>,
}

/// One organization's grants: the one waiting to start, if any (with the callbacks it answers),
/// and the lock held by the one running.
#[derive(Debug, Default)]
struct OrgGrants {
    waiting: Option<Vec<oneshot::Sender<Outcome>>>,
    /// Held by the organization's grant that runs: the next one starts after it.
    turn: Arc<tokio::sync::Mutex<()>>,
}

/// A callback admitted: its answer, and whether it made a new grant (to be spawned).
pub(super) struct Admitted {
    pub answer: oneshot::Receiver<Outcome>,
    pub new_grant: bool,
}

impl InstallQueue {
    /// At most `max_in_flight` grants sent at once and `max_queued` more waiting.
    pub fn new(max_in_flight: u32, max_queued: u32) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(max_in_flight as usize)),
            max_in_flight,
            limit: max_in_flight as usize + max_queued as usize,
            state: Mutex::default(),
        }
    }

    fn grants(&self) -> MutexGuard<'_, Grants> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a callback for `org_id`: it joins the organization's grant that has not started
    /// yet (if that answers fewer than [`MAX_CALLBACKS_PER_GRANT`]), or makes a new one if the
    /// budget allows; otherwise [`InstallError::Busy`].
    pub fn admit(&self, org_id: &str) -> Result<Admitted, InstallError> {
        let mut grants = self.grants();
        let (tx, answer) = oneshot::channel();
        if let Some(waiting) = grants
            .by_org
            .get_mut(org_id)
            .and_then(|org| org.waiting.as_mut())
        {
            waiting.retain(|answer| !answer.is_closed());
            if waiting.len() >= MAX_CALLBACKS_PER_GRANT {
                return Err(InstallError::Busy);
            }
            waiting.push(tx);
            return Ok(Admitted {
                answer,
                new_grant: false,
            });
        }
        if grants.count >= self.limit {
            return Err(InstallError::Busy);
        }
        grants.count += 1;
        grants.by_org.entry(org_id.to_owned()).or_default().waiting = Some(vec![tx]);
        Ok(Admitted {
            answer,
            new_grant: true,
        })
    }

    /// Waits for `org_id`'s turn (after its grant that runs, if any) and an in-flight permit.
    /// Returns what the grant holds while it runs.
    pub async fn turn(&self, org_id: &str) -> Result<Turn, Error> {
        let turn = {
            let mut grants = self.grants();
            let org = grants.by_org.entry(org_id.to_owned()).or_default();
            Arc::clone(&org.turn)
        };
        let turn = turn.lock_owned().await;
        let permit = Arc::clone(&self.in_flight)
            .acquire_owned()
            .await
            .map_err(|_| Error::RenewalInterrupted)?;
        Ok(Turn {
            _turn: turn,
            _permit: permit,
        })
    }

    /// `org_id`'s grant starts: the callbacks it answers; later ones make a new grant.
    pub fn start(&self, org_id: &str) -> Vec<oneshot::Sender<Outcome>> {
        let mut grants = self.grants();
        let org = grants.by_org.entry(org_id.to_owned()).or_default();
        org.waiting.take().unwrap_or_default()
    }

    /// `org_id`'s grant ended with `outcome`: answers its callbacks and frees its place.
    pub fn finish(
        &self,
        org_id: &str,
        mut answers: Vec<oneshot::Sender<Outcome>>,
        outcome: Outcome,
    ) {
        {
            let mut grants = self.grants();
            grants.count = grants.count.saturating_sub(1);
            if grants
                .by_org
                .get(org_id)
                .is_some_and(|org| org.waiting.is_none())
            {
                grants.by_org.remove(org_id);
            }
        }
        // A callback whose caller left is not waiting any more: nothing to tell it.
        answers.retain(|answer| !answer.is_closed());
        let last = answers.pop();
        for answer in answers {
            let _ = answer.send(outcome.clone());
        }
        // The last one gets the outcome itself: a callback answered alone gets the error
        // itself, not a shared one.
        if let Some(last) = last {
            let _ = last.send(outcome);
        }
    }

    /// Every in-flight permit: no install grant runs while they are held.
    pub async fn all_permits(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.in_flight)
            .acquire_many_owned(self.max_in_flight)
            .await
            .ok()
    }
}

/// What a grant holds while it runs: its organization's turn and an in-flight permit.
pub(super) struct Turn {
    _turn: tokio::sync::OwnedMutexGuard<()>,
    _permit: OwnedSemaphorePermit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_coalesce_until_the_grant_starts_and_the_budget_is_counted_in_grants() {
        let queue = InstallQueue::new(1, 1);
        let first = queue.admit("a").unwrap();
        let joined = queue.admit("a").unwrap();
        assert!(first.new_grant && !joined.new_grant);
        assert!(queue.admit("b").unwrap().new_grant);
        assert!(matches!(queue.admit("c"), Err(InstallError::Busy)));
        // Once "a"'s grant started, a callback for it makes a new grant: none left.
        let answers = queue.start("a");
        assert_eq!(answers.len(), 2);
        assert!(matches!(queue.admit("a"), Err(InstallError::Busy)));
        queue.finish("a", answers, Ok(()));
        assert!(queue.admit("a").unwrap().new_grant);
    }

    #[tokio::test]
    async fn a_callback_answered_alone_gets_the_error_itself() {
        let queue = InstallQueue::new(1, 1);
        let alone = queue.admit("a").unwrap();
        let answers = queue.start("a");
        queue.finish("a", answers, Err(Arc::new(Error::RenewalInterrupted)));
        let error = alone.answer.await.unwrap().unwrap_err();
        assert!(matches!(
            InstallError::from_grant(error),
            InstallError::Grant(Error::RenewalInterrupted)
        ));
    }

    #[test]
    fn a_queued_grant_answers_a_bounded_number_of_callbacks_that_still_wait() {
        let queue = InstallQueue::new(1, 1);
        let first = queue.admit("org").unwrap();
        assert!(first.new_grant);
        let mut joined: Vec<_> = (1..MAX_CALLBACKS_PER_GRANT)
            .map(|_| queue.admit("org").unwrap())
            .collect();
        assert!(joined.iter().all(|admitted| !admitted.new_grant));
        assert!(matches!(queue.admit("org"), Err(InstallError::Busy)));
        // Two callers that left free two places, and no more.
        joined.truncate(joined.len() - 2);
        joined.extend((0..2).map(|_| queue.admit("org").unwrap()));
        assert!(matches!(queue.admit("org"), Err(InstallError::Busy)));
        // The organization's grant starts: it answers exactly those still waiting.
        let answers = queue.start("org");
        assert_eq!(answers.len(), MAX_CALLBACKS_PER_GRANT);
        assert!(answers.iter().all(|answer| !answer.is_closed()));
        drop((first, joined));
    }
}
