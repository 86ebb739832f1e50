//! The retry policy: the one place that decides whether a failed registry operation is
//! tried again, and after how long.
//!
//! It wraps *whole operations* — one blob's HEAD → mount → upload → commit, one manifest
//! PUT — never single HTTP requests, so retries cannot stack (a transport retry inside
//! an operation retry would multiply: 3 × 3 = 9 requests). Each attempt starts from the
//! beginning and re-opens its bytes from the blob store. Which errors qualify is
//! [`RegistryError::is_retryable`]'s decision (408, 429, 5xx, connection failures).
//!
//! This slice runs every operation **once** ([`RetryPolicy::default`]); backoff with
//! jitter, `Retry-After`, upload resume from the acknowledged offset and a zero-backoff
//! test setting arrive with the retry work, here.

use std::future::Future;
use std::time::Duration;

use super::error::RegistryError;

#[derive(Clone, Debug)]
pub(super) struct RetryPolicy {
    /// Attempts in total, at least 1.
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 1,
            backoff: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// Runs `operation` (given the attempt number, from 1) until it succeeds, fails with
    /// an error that is not retryable, or runs out of attempts.
    pub async fn run<T, F, Fut>(&self, mut operation: F) -> Result<T, RegistryError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, RegistryError>>,
    {
        let mut attempt = 1;
        loop {
            match operation(attempt).await {
                Err(err) if attempt < self.attempts && err.is_retryable() => {
                    tokio::time::sleep(self.backoff * 2u32.saturating_pow(attempt - 1)).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::error::{RedactedUrl, ResponseBody};

    fn status(code: u16) -> RegistryError {
        RegistryError::Status {
            method: reqwest::Method::GET,
            url: RedactedUrl::new(&url::Url::parse("http://h/v2/").unwrap()),
            status: reqwest::StatusCode::from_u16(code).unwrap(),
            body: ResponseBody::Empty,
        }
    }

    #[tokio::test]
    async fn retries_only_retryable_errors_within_the_budget() {
        let policy = RetryPolicy {
            attempts: 3,
            backoff: Duration::ZERO,
        };
        let cases = [(503, 3), (404, 1)];
        for (code, expected_calls) in cases {
            let mut calls = 0;
            let result: Result<(), _> = policy
                .run(|_| {
                    calls += 1;
                    async move { Err(status(code)) }
                })
                .await;
            assert!(result.is_err());
            assert_eq!(calls, expected_calls, "{code}");
        }
        let once = RetryPolicy::default();
        let mut calls = 0;
        let _ = once
            .run(|_| {
                calls += 1;
                async { Err::<(), _>(status(503)) }
            })
            .await;
        assert_eq!(calls, 1);
    }
}
