//! Limits on failed logins and on mail-sending requests, per account and per
//! client address, in a sliding window. Kept in memory: each replica counts
//! its own, so N replicas allow at most N times the bound.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct SlidingWindow {
    limit: usize,
    window: Duration,
    events: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl SlidingWindow {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit,
            window,
            events: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds)` to wait when `key` is at its limit.
    pub fn blocked_for(&self, key: &str) -> Option<u64> {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let queue = events.get_mut(key)?;
        while queue.front().is_some_and(|t| now.duration_since(*t) > self.window) {
            queue.pop_front();
        }
        if queue.len() < self.limit {
            return None;
        }
        let oldest = *queue.front()?;
        Some(self.window.saturating_sub(now.duration_since(oldest)).as_secs().max(1))
    }

    pub fn record(&self, key: &str) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if events.len() > 100_000 {
            // Bounded memory under a flood of distinct keys: forget stale ones.
            let window = self.window;
            events.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) <= window));
        }
        events.entry(key.to_string()).or_default().push_back(now);
    }

    pub fn clear(&self, key: &str) {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

/// The service's limits.
pub struct AuthLimits {
    /// Failed logins per account: 20 an hour (API contract: at most 100).
    pub login_per_account: SlidingWindow,
    /// Failed logins per client address: 50 an hour.
    pub login_per_address: SlidingWindow,
    /// Registration, resend and reset requests per client address: 20 an hour.
    pub mail_requests_per_address: SlidingWindow,
}

impl Default for AuthLimits {
    fn default() -> Self {
        let hour = Duration::from_secs(3600);
        Self {
            login_per_account: SlidingWindow::new(20, hour),
            login_per_address: SlidingWindow::new(50, hour),
            mail_requests_per_address: SlidingWindow::new(20, hour),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_blocks_until_the_window_passes() {
        let window = SlidingWindow::new(3, Duration::from_millis(200));
        for _ in 0..3 {
            assert!(window.blocked_for("a").is_none());
            window.record("a");
        }
        assert!(window.blocked_for("a").is_some());
        assert!(window.blocked_for("b").is_none(), "per key");
        std::thread::sleep(Duration::from_millis(250));
        assert!(window.blocked_for("a").is_none());
        window.record("a");
        window.clear("a");
        assert!(window.blocked_for("a").is_none());
    }
}
