//! Token buckets on injected time, equivalent to Go's `rate.Limiter` as op-node uses it.
//!
//! The bucket is kept in GCRA form (lighthouse `rate_limiter.rs`): one "theoretical arrival
//! time" instead of a token count and a timestamp, so a reservation is two comparisons and no
//! clock read. Reservations may lie in the future, as with `rate.Limiter.Reserve`: the caller
//! is told *when* its tokens are available and schedules its work for then, instead of blocking.

use std::time::Duration;

/// A rate and a burst: `burst` tokens available at once, refilled one per `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    interval: Duration,
    burst: u32,
}

impl Quota {
    /// `per_second` tokens per second with a bucket of `burst` (op-node's
    /// `rate.NewLimiter(per_second, burst)`). A zero rate is treated as one per second and a
    /// zero burst as one, since Go's limiter would never grant anything with either.
    pub const fn per_second(per_second: u32, burst: u32) -> Self {
        let per_second = if per_second == 0 { 1 } else { per_second };
        Self {
            interval: Duration::from_nanos(1_000_000_000 / per_second as u64),
            burst: if burst == 0 { 1 } else { burst },
        }
    }

    /// The time one token takes to refill.
    pub const fn interval(&self) -> Duration {
        self.interval
    }

    /// The bucket size.
    pub const fn burst(&self) -> u32 {
        self.burst
    }
}

/// One token bucket, starting full.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    quota: Quota,
    /// The time at which the bucket would be full again if nothing more were taken.
    tat: Duration,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) const fn new(quota: Quota) -> Self {
        Self {
            quota,
            tat: Duration::ZERO,
        }
    }

    /// The earliest time, not before `now`, at which `n` tokens are available.
    pub(crate) fn available_at(&self, now: Duration, n: u32) -> Duration {
        let slack_tokens = i64::from(self.quota.burst) - i64::from(n);
        let earliest = if slack_tokens >= 0 {
            self.tat
                .saturating_sub(self.tokens(slack_tokens.unsigned_abs()))
        } else {
            self.tat
                .saturating_add(self.tokens(slack_tokens.unsigned_abs()))
        };
        earliest.max(now)
    }

    /// Takes `n` tokens whenever they are available and returns that time (`now` if they are
    /// there already): `rate.Limiter.ReserveN`, whose waiting the caller schedules.
    pub(crate) fn reserve(&mut self, now: Duration, n: u32) -> Duration {
        let at = self.available_at(now, n);
        self.tat = self.tat.max(at).saturating_add(self.tokens(u64::from(n)));
        at
    }

    /// Takes `n` tokens if they are available by `latest`, returning when; otherwise takes
    /// nothing. This is `rate.Limiter.WaitN` under a context deadline, which fails at once, and
    /// without consuming, when the wait would pass the deadline.
    pub(crate) fn reserve_by(
        &mut self,
        now: Duration,
        n: u32,
        latest: Duration,
    ) -> Option<Duration> {
        let at = self.available_at(now, n);
        (at <= latest).then(|| self.reserve(now, n))
    }

    fn tokens(&self, n: u64) -> Duration {
        // Quotas are small (bursts of tens, intervals of milliseconds): no overflow in practice,
        // and saturation would only mean "never".
        let nanos = self.quota.interval.as_nanos().saturating_mul(u128::from(n));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn quota_intervals() {
        assert_eq!(Quota::per_second(4, 15).interval(), 250 * MS);
        assert_eq!(Quota::per_second(20, 40).interval(), 50 * MS);
        assert_eq!(Quota::per_second(0, 0), Quota::per_second(1, 1));
    }

    #[test]
    fn burst_then_rate() {
        let mut bucket = TokenBucket::new(Quota::per_second(4, 15));
        for _ in 0..15 {
            assert_eq!(bucket.reserve(Duration::ZERO, 1), Duration::ZERO);
        }
        // Then one every 250 ms, reserved in the future without waiting.
        for k in 1..=8u32 {
            assert_eq!(bucket.reserve(Duration::ZERO, 1), 250 * MS * k);
        }
    }

    #[test]
    fn refills_while_idle_up_to_the_burst() {
        let mut bucket = TokenBucket::new(Quota::per_second(4, 15));
        for _ in 0..15 {
            bucket.reserve(Duration::ZERO, 1);
        }
        // One second later four tokens are back.
        let now = Duration::from_secs(1);
        for _ in 0..4 {
            assert_eq!(bucket.reserve(now, 1), now);
        }
        assert_eq!(bucket.reserve(now, 1), now + 250 * MS);
        // After a long pause the bucket is full, not fuller.
        let later = Duration::from_secs(100);
        for _ in 0..15 {
            assert_eq!(bucket.reserve(later, 1), later);
        }
        assert_eq!(bucket.reserve(later, 1), later + 250 * MS);
    }

    #[test]
    fn reserving_many_waits_for_all_of_them() {
        // op-node's client waits for 15 tokens after a failure.
        let mut bucket = TokenBucket::new(Quota::per_second(4, 15));
        assert_eq!(bucket.reserve(Duration::ZERO, 1), Duration::ZERO);
        // 14 left: 15 are there again 250 ms later.
        assert_eq!(bucket.reserve(Duration::ZERO, 15), 250 * MS);
        // Now empty until 250 ms + 15 × 250 ms.
        assert_eq!(bucket.available_at(Duration::ZERO, 1), 250 * MS + 250 * MS);
        // More than the burst is possible, just later (Go would refuse outright).
        let mut small = TokenBucket::new(Quota::per_second(1, 1));
        assert_eq!(small.reserve(Duration::ZERO, 3), Duration::from_secs(2));
    }

    #[test]
    fn reserve_by_takes_nothing_past_the_deadline() {
        let mut bucket = TokenBucket::new(Quota::per_second(4, 15));
        for _ in 0..15 {
            bucket.reserve(Duration::ZERO, 1);
        }
        let deadline = Duration::from_secs(1);
        for k in 1..=4u32 {
            assert_eq!(
                bucket.reserve_by(Duration::ZERO, 1, deadline),
                Some(250 * MS * k)
            );
        }
        assert_eq!(bucket.reserve_by(Duration::ZERO, 1, deadline), None);
        assert_eq!(bucket.reserve_by(Duration::ZERO, 1, deadline), None);
        // The refusals took nothing: the next token is still at 1.25 s.
        assert_eq!(bucket.available_at(Duration::ZERO, 1), 1250 * MS);
    }
}
