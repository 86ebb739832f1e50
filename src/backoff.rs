//! Retrying with capped exponential backoff: the one loop behind registry HTTP calls
//! (`registry::Tuning`) and SpaceONE gRPC calls (`spaceone::Retry`), which differ only in
//! their numbers, in what is worth retrying, and in whether waits are spread by jitter.
//!
//! The wait after failed attempt *n* is `first × 2ⁿ⁻¹` (±10 % with jitter), at least what
//! the server asked for (`Retry-After`), at most `max_wait`. The loop stops at `attempts`,
//! or once `max_elapsed` has passed.

use std::future::Future;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub attempts: u32,
    pub first: Duration,
    pub max_wait: Duration,
    pub max_elapsed: Option<Duration>,
    /// Spread waits ±10 %, so clients that failed together do not retry together.
    pub jitter: bool,
}

impl Backoff {
    /// The wait after failed attempt `attempt` (from 1), at least `at_least`.
    pub fn wait(&self, attempt: u32, at_least: Option<Duration>) -> Duration {
        let exponential = self
            .first
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let spread = if self.jitter {
            jitter(exponential)
        } else {
            exponential
        };
        spread.max(at_least.unwrap_or_default()).min(self.max_wait)
    }

    /// Runs `operation` (given the attempt number, from 1) until it succeeds, fails with
    /// an error `retry` does not retry (`None`; `Some(at_least)` retries, waiting at least
    /// that long), or runs out of attempts or time. `on_retry` hears of each failure that
    /// will be retried and the wait before the next attempt. Returns the last result and
    /// the number of attempts made.
    pub async fn run<T, E, F, Fut>(
        &self,
        mut operation: F,
        retry: impl Fn(&E) -> Option<Option<Duration>>,
        on_retry: impl Fn(&E, u32, Duration),
    ) -> (Result<T, E>, u32)
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let result = operation(attempt).await;
            let in_time = self.max_elapsed.is_none_or(|max| started.elapsed() < max);
            match result {
                Err(err) if attempt < self.attempts.max(1) && in_time => match retry(&err) {
                    Some(at_least) => {
                        let wait = self.wait(attempt, at_least);
                        on_retry(&err, attempt, wait);
                        if !wait.is_zero() {
                            tokio::time::sleep(wait).await;
                        }
                        attempt += 1;
                    }
                    None => return (Err(err), attempt),
                },
                result => return (result, attempt),
            }
        }
    }
}

/// ±10 %, from the clock's nanoseconds (no RNG needed for spreading retries).
fn jitter(d: Duration) -> Duration {
    if d.is_zero() {
        return d;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    let factor = 0.9 + f64::from(nanos % 1000) / 1000.0 * 0.2;
    d.mul_f64(factor)
}
