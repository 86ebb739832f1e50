//! The one retry policy for SpaceONE calls: which failures are worth another attempt, how
//! many attempts, and how long to wait between them.
//!
//! Only two answers are transient: UNAVAILABLE (the server is restarting, a proxy dropped
//! the connection, the port is not open yet) and DEADLINE_EXCEEDED (the call took longer
//! than its deadline). Every other status is the server's considered answer (a bad
//! field, a missing plugin, a refused token) and asking again would only repeat it.
//! Connecting is retried the same way: a refused connection is UNAVAILABLE in spirit.
//!
//! Retrying is safe for the flow's calls: reads are reads, `update`, `enable` and
//! `disable` set a state, and a `register` whose first attempt did land answers
//! ALREADY_EXISTS on the second, which the flow turns into an update.
//!
//! The policy is bounded ([`Retry::attempts`], a capped exponential backoff) and applied
//! in exactly one layer (each call of `calls.rs`, and `Connection::open`); nothing nested
//! retries again. Tests use [`Retry::immediate`] so a down server costs no waiting.

use std::future::Future;
use std::time::Duration;

use tonic::Code;

use crate::backoff::Backoff;

/// How often, and how patiently, a transient failure is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Total attempts, the first included (at least 1).
    pub attempts: u32,
    /// The wait after the first failure; doubled after each further one.
    pub first_backoff: Duration,
    /// The longest single wait.
    pub max_backoff: Duration,
}

impl Default for Retry {
    /// Three attempts, waiting 1 s then 2 s.
    fn default() -> Self {
        Retry {
            attempts: 3,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl Retry {
    /// One attempt, no retry.
    pub const fn never() -> Retry {
        Retry {
            attempts: 1,
            first_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
        }
    }

    /// `attempts` attempts without waiting in between (tests).
    pub const fn immediate(attempts: u32) -> Retry {
        Retry {
            attempts,
            first_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
        }
    }

    /// Whether a status is worth another attempt.
    pub fn is_transient(code: Code) -> bool {
        matches!(code, Code::Unavailable | Code::DeadlineExceeded)
    }

    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.policy().wait(attempt, None)
    }

    fn policy(&self) -> Backoff {
        Backoff {
            attempts: self.attempts,
            first: self.first_backoff,
            max_wait: self.max_backoff,
            max_elapsed: None,
            jitter: false,
        }
    }

    /// Runs `op` until it succeeds, fails with a status that is not transient, or the
    /// attempts are used up. Returns the last result and how many attempts were made.
    pub async fn run<T, E, F, Fut>(
        &self,
        transient: impl Fn(&E) -> bool,
        mut op: F,
    ) -> (Result<T, E>, u32)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let retry = |e: &E| transient(e).then_some(None);
        self.policy().run(|_| op(), retry, |_, _, _| {}).await
    }

    /// [`Retry::run`] for a gRPC call: retries UNAVAILABLE and DEADLINE_EXCEEDED (a
    /// connection tonic could not re-establish arrives as UNKNOWN and is turned into
    /// UNAVAILABLE first, see [`local_transport_failure`]).
    pub async fn call<T, F, Fut>(&self, mut op: F) -> (Result<T, tonic::Status>, u32)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, tonic::Status>>,
    {
        self.run(
            |s: &tonic::Status| Retry::is_transient(s.code()),
            || {
                let attempt = op();
                async move { attempt.await.map_err(local_transport_failure) }
            },
        )
        .await
    }
}

/// tonic reports a connection that broke or cannot be re-established (the server went
/// away) as a *local* status: UNKNOWN "Service was not ready: transport error", or
/// CANCELLED "operation was canceled" (hyper: the connection closed before the request
/// was sent). Local statuses carry the transport error as their source; a status a
/// server sent never does, and this client never cancels a call itself. Both are
/// UNAVAILABLE in gRPC's terms, so they become one, with the cause spelled out
/// (`tcp connect error: Connection refused`).
pub fn local_transport_failure(status: tonic::Status) -> tonic::Status {
    use std::error::Error as _;
    let local =
        matches!(status.code(), Code::Unknown | Code::Cancelled) && status.source().is_some();
    if !local {
        return status;
    }
    let mut text = status.message().to_string();
    let mut cause = status.source();
    while let Some(e) = cause {
        let shown = e.to_string();
        if !text.contains(&shown) {
            text = format!("{text}: {shown}");
        }
        cause = e.source();
    }
    tonic::Status::unavailable(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = Retry {
            attempts: 6,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(3),
        };
        let waits: Vec<_> = (1..=5).map(|a| r.backoff(a).as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 3000, 3000]);
        assert_eq!(Retry::immediate(5).backoff(4), Duration::ZERO);
    }

    #[test]
    fn only_unavailable_and_deadline_exceeded_are_transient() {
        let transient: Vec<Code> = [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::InvalidArgument,
            Code::Internal,
            Code::NotFound,
            Code::Unauthenticated,
            Code::AlreadyExists,
            Code::Unknown,
        ]
        .into_iter()
        .filter(|c| Retry::is_transient(*c))
        .collect();
        assert_eq!(transient, [Code::Unavailable, Code::DeadlineExceeded]);
    }

    fn run(retry: Retry, answers: &[Code]) -> (Result<u32, Code>, u32, u32) {
        let calls = Cell::new(0u32);
        let (result, attempts) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(retry.call(|| {
                let n = calls.get();
                calls.set(n + 1);
                let code = answers.get(n as usize).copied().unwrap_or(Code::Ok);
                async move {
                    if code == Code::Ok {
                        Ok(n)
                    } else {
                        Err(tonic::Status::new(code, "x"))
                    }
                }
            }));
        (result.map_err(|s| s.code()), attempts, calls.get())
    }

    #[test]
    fn transient_failures_are_retried_within_the_bound() {
        assert_eq!(
            run(
                Retry::immediate(3),
                &[Code::Unavailable, Code::DeadlineExceeded]
            ),
            (Ok(2), 3, 3)
        );
        assert_eq!(
            run(Retry::immediate(3), &[Code::Unavailable; 5]),
            (Err(Code::Unavailable), 3, 3)
        );
        assert_eq!(
            run(Retry::never(), &[Code::Unavailable]),
            (Err(Code::Unavailable), 1, 1)
        );
    }

    #[test]
    fn local_transport_failures_become_unavailable_server_answers_do_not() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let local = tonic::Status::from_error(Box::new(io));
        assert_eq!(local.code(), Code::Unknown);
        let mapped = local_transport_failure(local);
        assert_eq!(
            (mapped.code(), mapped.message()),
            (Code::Unavailable, "refused")
        );
        for sent in [
            tonic::Status::unknown("ERROR_UNKNOWN: boom"),
            tonic::Status::cancelled("by the server"),
            tonic::Status::internal("x"),
        ] {
            let code = sent.code();
            assert_eq!(local_transport_failure(sent).code(), code);
        }
    }

    #[test]
    fn the_servers_answers_are_not_retried() {
        assert_eq!(
            run(Retry::immediate(3), &[Code::InvalidArgument]),
            (Err(Code::InvalidArgument), 1, 1)
        );
        assert_eq!(
            run(Retry::immediate(3), &[Code::Unavailable, Code::Internal]),
            (Err(Code::Internal), 2, 2)
        );
    }
}
