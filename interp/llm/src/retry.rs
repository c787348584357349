//! Bounded retries with exponential backoff on rate limits and server errors, honouring the
//! server's `Retry-After` (seconds or an HTTP date) up to a ceiling.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::error::{Ending, Failure};

/// A server asking us to wait longer than this gets no retry: the error says how long it asked.
pub(crate) const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
/// Our own backoff never grows beyond this.
const MAX_BACKOFF: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug)]
pub(crate) struct RetryPolicy {
    pub max_retries: u32,
    pub base: Duration,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based) when the server gave no `Retry-After`:
    /// base·2^retry, plus up to 25% jitter so that many clients do not retry in lockstep.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let plain = self.base.saturating_mul(1u32 << retry.min(16)).min(MAX_BACKOFF);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let jitter = plain.mul_f64(f64::from(nanos % 1000) / 4000.0);
        plain + jitter
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are used up.
    pub(crate) async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T, (Failure, Ending)>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut retries = 0;
        loop {
            let failure = match attempt().await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let ending = if retries > 0 { Ending::GaveUp(retries) } else { Ending::NoRetry };
            if !failure.retryable() || retries >= self.max_retries {
                return Err((failure, ending));
            }
            let wait = failure.retry_after().unwrap_or_else(|| self.backoff(retries));
            if wait > MAX_RETRY_WAIT {
                return Err((failure, Ending::WaitTooLong(wait)));
            }
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }
}

/// `Retry-After: 120`, `Retry-After: 1.5` (seen in the wild), or
/// `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` (relative to `now`; a date in the past means 0).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)));
    }
    let at = UNIX_EPOCH + Duration::from_secs(parse_http_date(value)?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Seconds since the epoch of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only form
/// servers are allowed to send (RFC 9110 §5.6.7).
fn parse_http_date(text: &str) -> Option<u64> {
    let (_weekday, rest) = text.split_once(", ")?;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| m == month)? as u64 + 1;
    let day: u64 = day.parse().ok()?;
    let year: u64 = year.parse().ok()?;
    let hms: Vec<u64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || year < 1970 || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days from 1970-01-01 to the given date (proleptic Gregorian; Howard Hinnant's algorithm).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 1.5 ", now), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT"), Some(951_825_600));
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let policy = RetryPolicy { max_retries: 3, base: Duration::from_millis(100) };
        for (retry, plain) in [(0, 100), (1, 200), (2, 400)] {
            let wait = policy.backoff(retry);
            assert!(wait >= Duration::from_millis(plain) && wait <= Duration::from_millis(plain * 5 / 4), "{wait:?}");
        }
        assert!(policy.backoff(30) <= MAX_BACKOFF * 5 / 4);
    }

    #[test]
    fn retries_only_what_is_retryable_and_counts_them() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let policy = RetryPolicy { max_retries: 2, base: Duration::from_millis(1) };
        let http = |status| Failure::Http { status, detail: None, retry_after: None };

        let mut calls = 0;
        let result: Result<(), _> = rt.block_on(policy.run(|| {
            calls += 1;
            async { Err(http(500)) }
        }));
        assert_eq!(result.unwrap_err().1, Ending::GaveUp(2));
        assert_eq!(calls, 3);

        let mut calls = 0;
        let result: Result<(), _> = rt.block_on(policy.run(|| {
            calls += 1;
            async { Err(http(400)) }
        }));
        assert_eq!(result.unwrap_err().1, Ending::NoRetry);
        assert_eq!(calls, 1);

        let mut calls = 0;
        let result = rt.block_on(policy.run(|| {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(http(429))
                } else {
                    Ok(n)
                }
            }
        }));
        assert_eq!(result.unwrap(), 3);

        let far = Failure::Http { status: 429, detail: None, retry_after: Some(Duration::from_secs(3600)) };
        let result: Result<(), _> = rt.block_on(policy.run(|| {
            let far = far.clone();
            async move { Err(far) }
        }));
        assert_eq!(result.unwrap_err().1, Ending::WaitTooLong(Duration::from_secs(3600)));
    }
}
