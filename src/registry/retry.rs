//! The retry policy: the one place that decides whether a failed registry operation is
//! tried again, and after how long.
//!
//! It wraps *whole operations* — one blob's HEAD → mount → upload → commit, one manifest
//! PUT — never single HTTP requests, so retries cannot stack (a transport retry inside
//! an operation retry would multiply: 3 × 3 = 9 requests). Each attempt starts from the
//! beginning and re-opens its bytes from the blob store; an upload that already has a
//! session *resumes* it instead (`upload.rs` keeps that state across attempts). Which
//! errors qualify is [`RegistryError::is_retryable`]'s decision (408, 429, 5xx, resets,
//! stalls, the registry's temporary error codes).
//!
//! The wait before attempt *n + 1* is `backoff × 2ⁿ⁻¹` with ±10 % jitter, at least what a
//! `Retry-After` header asked for, at most [`Tuning::max_wait`]; attempts stop at
//! [`Tuning::attempts`] or once [`Tuning::max_elapsed`] has passed. Tests set `backoff`
//! to zero (go-containerregistry's `fastBackoff`, youki's `cfg(test)` 0 ms). The loop
//! itself is [`crate::backoff`]'s, shared with the SpaceONE client.

use std::future::Future;
use std::time::Duration;

use super::error::RegistryError;
use crate::backoff::Backoff;

/// How hard the client tries, and how long it waits. Not an input: the defaults suit
/// every registry; tests and the benchmark set their own.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// Attempts per operation in total, at least 1.
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub backoff: Duration,
    /// The longest single wait, `Retry-After` included.
    pub max_wait: Duration,
    /// No further attempt starts after this much time since the first.
    pub max_elapsed: Duration,
    /// A request that sends no body byte and gets no response for this long is abandoned
    /// (and retried, resuming an upload where it stopped).
    pub stall_timeout: Duration,
    /// After a failed upload, ask the session for its committed offset and continue
    /// there (`false`: start the blob over, for comparison).
    pub resume: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            attempts: 5,
            backoff: Duration::from_secs(1),
            max_wait: Duration::from_secs(60),
            max_elapsed: Duration::from_secs(600),
            stall_timeout: Duration::from_secs(120),
            resume: true,
        }
    }
}

impl Tuning {
    /// Immediate retries and a short stall timeout, for tests on loopback.
    pub fn fast() -> Tuning {
        Tuning {
            attempts: 6,
            backoff: Duration::ZERO,
            max_wait: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(120),
            stall_timeout: Duration::from_secs(2),
            resume: true,
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            attempts: self.attempts,
            first: self.backoff,
            max_wait: self.max_wait,
            max_elapsed: Some(self.max_elapsed),
            jitter: true,
        }
    }

    /// Runs `operation` (given the attempt number, from 1) until it succeeds, fails with
    /// an error that is not retryable, or runs out of attempts or time. `on_retry` hears
    /// about each failure that will be retried, and the wait before the next attempt.
    pub(super) async fn run<T, F, Fut>(
        &self,
        operation: F,
        on_retry: impl Fn(&RegistryError, u32, Duration),
    ) -> Result<T, RegistryError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, RegistryError>>,
    {
        let retry = |e: &RegistryError| e.is_retryable().then(|| e.retry_after());
        self.backoff().run(operation, retry, on_retry).await.0
    }

    /// The wait after failed attempt `attempt` (from 1).
    #[cfg(test)]
    pub(super) fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.backoff().wait(attempt, retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::error::{RedactedUrl, ResponseBody};

    fn status(code: u16, retry_after: Option<u64>) -> RegistryError {
        RegistryError::Status {
            method: reqwest::Method::GET,
            url: RedactedUrl::new(&url::Url::parse("http://h/v2/").unwrap()),
            status: reqwest::StatusCode::from_u16(code).unwrap(),
            body: ResponseBody::Empty,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[tokio::test]
    async fn retries_only_retryable_errors_within_the_budget() {
        let policy = Tuning {
            attempts: 3,
            ..Tuning::fast()
        };
        for (code, expected_calls) in [(503, 3), (429, 3), (404, 1), (400, 1)] {
            let mut calls = 0;
            let retried = std::sync::Mutex::new(Vec::new());
            let result: Result<(), _> = policy
                .run(
                    |_| {
                        calls += 1;
                        async move { Err(status(code, None)) }
                    },
                    |_, attempt, _| retried.lock().unwrap().push(attempt),
                )
                .await;
            assert!(result.is_err());
            assert_eq!(calls, expected_calls, "{code}");
            assert_eq!(retried.lock().unwrap().len(), expected_calls - 1);
        }
        let once = Tuning {
            attempts: 1,
            ..Tuning::fast()
        };
        let mut calls = 0;
        let _ = once
            .run(
                |_| {
                    calls += 1;
                    async { Err::<(), _>(status(503, None)) }
                },
                |_, _, _| {},
            )
            .await;
        assert_eq!(calls, 1);
    }

    #[test]
    fn waits_grow_with_jitter_honour_retry_after_and_are_capped() {
        let t = Tuning::default();
        let within = |d: Duration, base: f64| {
            let s = d.as_secs_f64();
            assert!(
                s >= base * 0.9 - 1e-9 && s <= base * 1.1 + 1e-9,
                "{s} vs {base}"
            );
        };
        within(t.wait(1, None), 1.0);
        within(t.wait(2, None), 2.0);
        within(t.wait(3, None), 4.0);
        assert_eq!(
            t.wait(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(t.wait(20, None), t.max_wait);
        assert_eq!(t.wait(1, Some(Duration::from_secs(3600))), t.max_wait);
        let fast = Tuning::fast();
        assert_eq!(fast.wait(3, None), Duration::ZERO);
        assert_eq!(
            fast.wait(1, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
    }
}
